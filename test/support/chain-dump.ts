/**
 * A large synthetic HPROF written fast (tests and benchmarks of the leak analysis): one class `Chain`
 * with a reference field `next`, `n` instances each pointing at the next, the first held by the static
 * field `Chain.HEAD` of a system class (a sticky-class root). A linked list of `n` objects: the analysis
 * of it needs memory in proportion to n (36-40 bytes per object and 8 per reference).
 * Format per the HPROF definition (as test/support/hprof-writer.ts), records written straight into
 * preallocated buffers.
 */
import * as fsp from 'fs/promises';

const ID = 8;
const CLASS_ID = 0x1000n;
const FIRST = 0x100000n;
/** Instance record: tag, id, stack serial, class id, data length, one reference. */
const INSTANCE = 1 + ID + 4 + ID + 4 + ID;

function header(): Buffer {
  const version = Buffer.from('JAVA PROFILE 1.0.2\0', 'latin1');
  const h = Buffer.alloc(12);
  h.writeUInt32BE(ID, 0);
  h.writeBigUInt64BE(BigInt(Date.UTC(2026, 11, 7)), 4);
  return Buffer.concat([version, h]);
}

function record(tag: number, body: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h[0] = tag;
  h.writeUInt32BE(body.length, 5);
  return Buffer.concat([h, body]);
}

const id = (v: bigint) => {
  const b = Buffer.alloc(ID);
  b.writeBigUInt64BE(v);
  return b;
};

/** Writes the chain dump of `n` objects to `file` (mode 0600); returns its size. */
export async function writeChainDump(file: string, n: number): Promise<number> {
  const fh = await fsp.open(file, 'w', 0o600);
  let pos = 0;
  const put = async (b: Buffer) => {
    await fh.write(b, 0, b.length, pos);
    pos += b.length;
  };
  try {
    await put(header());
    await put(record(0x01, Buffer.concat([id(1n), Buffer.from('Chain')])));
    await put(record(0x01, Buffer.concat([id(2n), Buffer.from('next')])));
    await put(record(0x01, Buffer.concat([id(3n), Buffer.from('HEAD')])));
    const load = Buffer.alloc(8 + 2 * ID);
    load.writeUInt32BE(1, 0);
    load.writeBigUInt64BE(CLASS_ID, 4);
    load.writeBigUInt64BE(1n, 8 + ID);
    await put(record(0x02, load));
    // segment 1: the class (static HEAD -> first instance) and its sticky root
    const classDump = Buffer.concat([
      Buffer.from([0x20]), id(CLASS_ID), Buffer.alloc(4), Buffer.alloc(6 * ID),
      (() => { const b = Buffer.alloc(4); b.writeUInt32BE(ID); return b; })(),
      Buffer.from([0, 0]), Buffer.from([0, 1]), id(3n), Buffer.from([2]), id(FIRST),
      Buffer.from([0, 1]), id(2n), Buffer.from([2]),
    ]);
    await put(record(0x1c, Buffer.concat([classDump, Buffer.from([0x05]), id(CLASS_ID)])));
    // then the instances, in segments of up to 1 Mi instances
    const per = 1 << 20;
    for (let start = 0; start < n; start += per) {
      const count = Math.min(per, n - start);
      const body = Buffer.allocUnsafe(count * INSTANCE);
      for (let k = 0; k < count; k++) {
        const i = start + k;
        const at = k * INSTANCE;
        body[at] = 0x21;
        body.writeBigUInt64BE(FIRST + BigInt(i) * 16n, at + 1);
        body.writeUInt32BE(0, at + 1 + ID);
        body.writeBigUInt64BE(CLASS_ID, at + 5 + ID);
        body.writeUInt32BE(ID, at + 5 + 2 * ID);
        body.writeBigUInt64BE(i + 1 < n ? FIRST + BigInt(i + 1) * 16n : 0n, at + 9 + 2 * ID);
      }
      await put(record(0x1c, body));
    }
    await put(record(0x2c, Buffer.alloc(0)));
  } finally {
    await fh.close();
  }
  return pos;
}
