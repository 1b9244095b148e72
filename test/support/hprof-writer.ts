/**
 * A small HPROF writer for unit tests: synthetic dumps with 4- or 8-byte identifiers, written from
 * the format's definition (not from the parser's code), so that tests can build exactly the records
 * they need: names, classes, stack frames and traces, heap dump segments with class dumps,
 * instances, arrays and roots, unknown records, and record headers with any length.
 *
 * Format: "JAVA PROFILE 1.0.2\0", u4 id size, u8 ms timestamp; records u1 tag, u4 time, u4 length, body.
 */

export const T = { object: 2, boolean: 4, char: 5, float: 6, double: 7, byte: 8, short: 9, int: 10, long: 11 } as const;
const TYPE_SIZE: Record<number, number> = { 4: 1, 5: 2, 6: 4, 7: 8, 8: 1, 9: 2, 10: 4, 11: 8 };

export interface Field {
  readonly name: bigint;
  readonly type: number;
}

export class HprofWriter {
  private readonly parts: Buffer[] = [];
  private segment: Buffer[] | null = null;

  constructor(
    readonly idSize: 4 | 8 = 8,
    opts: { version?: string; timestampMs?: number } = {},
  ) {
    const version = Buffer.from(`${opts.version ?? 'JAVA PROFILE 1.0.2'}\0`, 'latin1');
    const h = Buffer.alloc(12);
    h.writeUInt32BE(idSize, 0);
    h.writeBigUInt64BE(BigInt(opts.timestampMs ?? Date.UTC(2026, 10, 30, 1, 2, 3)), 4);
    this.parts.push(version, h);
  }

  id(value: bigint): Buffer {
    const b = Buffer.alloc(this.idSize);
    if (this.idSize === 8) b.writeBigUInt64BE(value);
    else b.writeUInt32BE(Number(value));
    return b;
  }

  static u1 = (v: number): Buffer => Buffer.from([v]);
  static u2 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return b;
  };
  static u4 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return b;
  };
  static i4 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return b;
  };

  /** A record header `tag, time 0, length` (length as given: may disagree with what follows). */
  static recordHeader(tag: number, length: number): Buffer {
    const b = Buffer.alloc(9);
    b[0] = tag;
    b.writeUInt32BE(length >>> 0, 5);
    return b;
  }

  /** Raw bytes. */
  raw(bytes: Buffer): this {
    this.flushSegment();
    this.parts.push(bytes);
    return this;
  }

  record(tag: number, body: Buffer): this {
    this.flushSegment();
    this.parts.push(HprofWriter.recordHeader(tag, body.length), body);
    return this;
  }

  utf8(id: bigint, text: string): this {
    return this.record(0x01, Buffer.concat([this.id(id), Buffer.from(text, 'utf8')]));
  }

  loadClass(serial: number, classId: bigint, nameId: bigint): this {
    return this.record(0x02, Buffer.concat([HprofWriter.u4(serial), this.id(classId), HprofWriter.u4(0), this.id(nameId)]));
  }

  stackFrame(frameId: bigint, methodId: bigint, signatureId: bigint, sourceId: bigint, classSerial: number, line: number): this {
    return this.record(
      0x04,
      Buffer.concat([this.id(frameId), this.id(methodId), this.id(signatureId), this.id(sourceId), HprofWriter.u4(classSerial), HprofWriter.i4(line)]),
    );
  }

  stackTrace(serial: number, threadSerial: number, frameIds: bigint[]): this {
    return this.record(0x05, Buffer.concat([HprofWriter.u4(serial), HprofWriter.u4(threadSerial), HprofWriter.u4(frameIds.length), ...frameIds.map((f) => this.id(f))]));
  }

  /** Starts a HEAP DUMP SEGMENT (0x1C; 0x0C with `tag`); sub-records follow until the next record. */
  heapSegment(tag = 0x1c): this {
    this.flushSegment();
    this.segment = [];
    this.segmentTag = tag;
    return this;
  }

  private segmentTag = 0x1c;

  sub(bytes: Buffer): this {
    if (!this.segment) throw new Error('HprofWriter: sub-record outside a heap dump segment');
    this.segment.push(bytes);
    return this;
  }

  classDump(classId: bigint, superId: bigint, instanceSize: number, fields: Field[], statics: Array<{ name: bigint; type: number; value: Buffer }> = []): this {
    const id = (v: bigint) => this.id(v);
    return this.sub(
      Buffer.concat([
        HprofWriter.u1(0x20),
        id(classId),
        HprofWriter.u4(0),
        id(superId),
        id(0n), // loader
        id(0n), // signers
        id(0n), // protection domain
        id(0n),
        id(0n), // reserved
        HprofWriter.u4(instanceSize),
        HprofWriter.u2(0), // constant pool
        HprofWriter.u2(statics.length),
        ...statics.flatMap((s) => [id(s.name), HprofWriter.u1(s.type), s.value]),
        HprofWriter.u2(fields.length),
        ...fields.flatMap((f) => [id(f.name), HprofWriter.u1(f.type)]),
      ]),
    );
  }

  instance(objectId: bigint, classId: bigint, data: Buffer): this {
    return this.sub(Buffer.concat([HprofWriter.u1(0x21), this.id(objectId), HprofWriter.u4(0), this.id(classId), HprofWriter.u4(data.length), data]));
  }

  objectArray(arrayId: bigint, classId: bigint, elements: bigint[]): this {
    return this.sub(
      Buffer.concat([HprofWriter.u1(0x22), this.id(arrayId), HprofWriter.u4(0), HprofWriter.u4(elements.length), this.id(classId), ...elements.map((e) => this.id(e))]),
    );
  }

  primitiveArray(arrayId: bigint, type: number, length: number, content?: Buffer): this {
    const body = content ?? Buffer.alloc(length * TYPE_SIZE[type]);
    return this.sub(Buffer.concat([HprofWriter.u1(0x23), this.id(arrayId), HprofWriter.u4(0), HprofWriter.u4(length), HprofWriter.u1(type), body]));
  }

  rootThreadObject(objectId: bigint, threadSerial: number, traceSerial: number): this {
    return this.sub(Buffer.concat([HprofWriter.u1(0x08), this.id(objectId), HprofWriter.u4(threadSerial), HprofWriter.u4(traceSerial)]));
  }

  rootStickyClass(classId: bigint): this {
    return this.sub(Buffer.concat([HprofWriter.u1(0x05), this.id(classId)]));
  }

  end(): this {
    return this.record(0x2c, Buffer.alloc(0));
  }

  private flushSegment(): void {
    if (!this.segment) return;
    const body = Buffer.concat(this.segment);
    this.segment = null;
    this.parts.push(HprofWriter.recordHeader(this.segmentTag, body.length), body);
  }

  toBuffer(): Buffer {
    this.flushSegment();
    return Buffer.concat(this.parts);
  }
}
