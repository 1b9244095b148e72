console.error("agent main not written yet"); process.exit(1);
