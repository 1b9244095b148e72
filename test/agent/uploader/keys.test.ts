import { contentSuffixedKey, encodeSegment, metadataValue, objectKey, podOf } from '../../../agent/src/uploader/keys';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('objectKey', () => {
  it('is prefix + node + path below the root', () => {
    expect(objectKey('dumps/', 'node-1', [b('shop'), b('web-7f9'), b('java_pid1.hprof')])).toBe('dumps/node-1/shop/web-7f9/java_pid1.hprof');
    expect(objectKey('', 'n', [b('a.hprof')])).toBe('n/a.hprof');
  });

  it('keeps spaces and unicode as they are', () => {
    expect(objectKey('p/', 'n', [b('my dir'), b('Äpfel €.hprof')])).toBe('p/n/my dir/Äpfel €.hprof');
  });

  it('escapes control characters, invalid UTF-8 and % itself, so distinct names give distinct valid keys', () => {
    expect(encodeSegment(b('a\nb'))).toBe('a%0Ab');
    expect(encodeSegment(b('100%.hprof'))).toBe('100%25.hprof');
    expect(encodeSegment(Buffer.from([0x61, 0xff, 0x62]))).toBe('a%FFb');
    expect(encodeSegment(Buffer.from([0xc3, 0x28]))).toBe('%C3(');
    expect(encodeSegment(Buffer.from([0xed, 0xa0, 0x80]))).toBe('%ED%A0%80'); // UTF-16 surrogate: not valid UTF-8
    expect(encodeSegment(Buffer.from([0xc0, 0xaf]))).toBe('%C0%AF'); // overlong '/'
    // the literal name "a%FFb" and the byte name a\xffb must not collide
    expect(encodeSegment(b('a%FFb'))).not.toBe(encodeSegment(Buffer.from([0x61, 0xff, 0x62])));
    const names = ['a\nb', 'a%0Ab', 'a%250Ab', 'a b', 'a\tb'].map((s) => encodeSegment(b(s)));
    expect(new Set(names).size).toBe(names.length);
    for (const k of names) expect(Buffer.from(k, 'utf8').toString('utf8')).toBe(k);
  });
});

describe('contentSuffixedKey', () => {
  const sha = 'abcdef0123456789'.repeat(4);
  it('inserts the first 12 hex of the sha256 before the dump extension', () => {
    expect(contentSuffixedKey('p/n/ns/pod/java_pid1.hprof', sha)).toBe('p/n/ns/pod/java_pid1.abcdef012345.hprof');
    expect(contentSuffixedKey('p/n/x/dump.hprof.gz', sha)).toBe('p/n/x/dump.abcdef012345.hprof.gz');
    expect(contentSuffixedKey('p/n/x/java_pid1.hprof.gz', sha)).toBe('p/n/x/java_pid1.abcdef012345.hprof.gz');
    expect(contentSuffixedKey('p/n/x/heapdump.20240101.phd', sha)).toBe('p/n/x/heapdump.20240101.abcdef012345.phd');
    expect(contentSuffixedKey('p/n/x/noext', sha)).toBe('p/n/x/noext.abcdef012345');
    expect(contentSuffixedKey('p/n/x/.hprof', sha)).toBe('p/n/x/.hprof.abcdef012345');
  });
});

describe('podOf / metadataValue', () => {
  it('derives namespace and pod from the first two directories', () => {
    expect(podOf([b('shop'), b('web-1'), b('java_pid1.hprof')])).toEqual({ namespace: 'shop', pod: 'web-1' });
    expect(podOf([b('shop'), b('x.hprof')])).toEqual({ namespace: 'shop', pod: undefined });
    expect(podOf([b('x.hprof')])).toEqual({ namespace: undefined, pod: undefined });
  });
  it('keeps printable ASCII metadata and percent-encodes anything else (HTTP header values)', () => {
    expect(metadataValue('web-1')).toBe('web-1');
    expect(metadataValue('Äpfel')).toBe('%C3%84pfel');
  });
});
