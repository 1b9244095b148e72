// Demo application for the heap dump pipeline: a JVM that leaks memory until it runs out.
//
// Launched as a single source file (`java /app/Leak.java`, JEP 330) by a stock JDK image, so the
// demo needs no image build. It keeps the prototype's behaviour: about 10 MB retained every 5 s,
// and a /health endpoint on 8080 (the JDK's built-in HTTP server, no framework). With
// -XX:+HeapDumpOnOutOfMemoryError the JVM writes java_pid<N>.hprof into -XX:HeapDumpPath.
// Compiles on Java 17 (no preview features).

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public class Leak {
    private static final List<byte[]> RETAINED = new ArrayList<>();
    private static volatile long retainedBytes = 0;

    public static void main(String[] args) throws IOException {
        int port = intEnv("PORT", 8080);
        // All interfaces in a pod (probes and the Service hit the pod IP); tests bind 127.0.0.1.
        String host = System.getenv().getOrDefault("HOST", "0.0.0.0");
        int chunkMb = intEnv("LEAK_MB", 10);
        long intervalMs = intEnv("LEAK_INTERVAL_SECONDS", 5) * 1000L;

        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/health", exchange -> reply(exchange, "{\"status\":\"UP\"}"));
        server.createContext("/", exchange -> reply(exchange,
                "{\"retainedBytes\":" + retainedBytes + ",\"maxHeapBytes\":" + Runtime.getRuntime().maxMemory() + "}"));
        server.start();
        System.out.println("Leak: listening on " + host + ":" + port + ", retaining " + chunkMb + " MB every " + intervalMs + " ms");

        while (true) {
            byte[] chunk = new byte[chunkMb * 1024 * 1024];
            Arrays.fill(chunk, (byte) 1); // touch the pages so the memory is really used
            synchronized (RETAINED) {
                RETAINED.add(chunk);
            }
            retainedBytes += chunk.length;
            System.out.println("Leak: retained " + (retainedBytes / (1024 * 1024)) + " MB");
            sleep(intervalMs);
        }
    }

    private static void reply(HttpExchange exchange, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static int intEnv(String name, int fallback) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            System.err.println("Leak: ignoring " + name + "=" + value + " (not a whole number), using " + fallback);
            return fallback;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
