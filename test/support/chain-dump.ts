/**
 * Large synthetic HPROFs written fast (tests and benchmarks of the leak analysis):
 *  - writeChainDump: one class `Chain` with a reference field `next`, `n` instances each pointing at the
 *    next, the first held by the static field `Chain.HEAD` of a system class (a sticky-class root): a
 *    linked list, as many references as objects;
 *  - writeFanDump: `n` instances without fields and `arrays` object arrays of `length` elements each,
 *    every element a reference to one of the instances: many more references than objects.
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

/** `n` empty instances and `arrays` Object[length] arrays referencing them (round-robin), all held by `Chain.HEAD`'s array. */
export async function writeFanDump(file: string, n: number, arrays: number, length: number): Promise<number> {
  const fh = await fsp.open(file, 'w', 0o600);
  let pos = 0;
  const put = async (b: Buffer) => {
    await fh.write(b, 0, b.length, pos);
    pos += b.length;
  };
  const ARRAY_CLASS = 0x2000n;
  const ROOT_ARRAY = 0x10n;
  const arrayId = (j: number) => 0x40000000000n + BigInt(j) * 0x100000n;
  const instanceId = (i: number) => FIRST + BigInt(i) * 16n;
  try {
    await put(header());
    await put(record(0x01, Buffer.concat([id(1n), Buffer.from('Fan')])));
    await put(record(0x01, Buffer.concat([id(3n), Buffer.from('HEAD')])));
    await put(record(0x01, Buffer.concat([id(4n), Buffer.from('[Ljava/lang/Object;')])));
    for (const [serial, cls, name] of [[1, CLASS_ID, 1n], [2, ARRAY_CLASS, 4n]] as const) {
      const load = Buffer.alloc(8 + 2 * ID);
      load.writeUInt32BE(serial, 0);
      load.writeBigUInt64BE(cls, 4);
      load.writeBigUInt64BE(name, 8 + ID);
      await put(record(0x02, load));
    }
    const classDump = (cls: bigint, statics: Buffer) => Buffer.concat([Buffer.from([0x20]), id(cls), Buffer.alloc(4), Buffer.alloc(6 * ID), Buffer.alloc(4), Buffer.from([0, 0]), statics, Buffer.from([0, 0])]);
    const roots = Buffer.concat([Buffer.from([0x22]), id(ROOT_ARRAY), Buffer.alloc(4), (() => { const b = Buffer.alloc(4); b.writeUInt32BE(arrays); return b; })(), id(ARRAY_CLASS), ...Array.from({ length: arrays }, (_, j) => id(arrayId(j)))]);
    await put(record(0x1c, Buffer.concat([
      classDump(CLASS_ID, Buffer.concat([Buffer.from([0, 1]), id(3n), Buffer.from([2]), id(ROOT_ARRAY)])),
      classDump(ARRAY_CLASS, Buffer.from([0, 0])),
      Buffer.from([0x05]), id(CLASS_ID),
      roots,
    ])));
    const per = 1 << 20;
    const EMPTY = 1 + ID + 4 + ID + 4;
    for (let start = 0; start < n; start += per) {
      const count = Math.min(per, n - start);
      const body = Buffer.allocUnsafe(count * EMPTY);
      for (let k = 0; k < count; k++) {
        const at = k * EMPTY;
        body[at] = 0x21;
        body.writeBigUInt64BE(instanceId(start + k), at + 1);
        body.writeUInt32BE(0, at + 1 + ID);
        body.writeBigUInt64BE(CLASS_ID, at + 5 + ID);
        body.writeUInt32BE(0, at + 5 + 2 * ID);
      }
      await put(record(0x1c, body));
    }
    let next = 0;
    for (let j = 0; j < arrays; j++) {
      const body = Buffer.allocUnsafe(1 + ID + 4 + 4 + ID + length * ID);
      body[0] = 0x22;
      body.writeBigUInt64BE(arrayId(j), 1);
      body.writeUInt32BE(0, 1 + ID);
      body.writeUInt32BE(length, 5 + ID);
      body.writeBigUInt64BE(ARRAY_CLASS, 9 + ID);
      for (let e = 0; e < length; e++, next = (next + 1) % n) body.writeBigUInt64BE(instanceId(next), 9 + 2 * ID + e * ID);
      await put(record(0x1c, body));
    }
    await put(record(0x2c, Buffer.alloc(0)));
  } finally {
    await fh.close();
  }
  return pos;
}
