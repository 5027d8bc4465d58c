import { readFileSync } from 'node:fs';

/**
 * Lists the device code embedded in a host binary (the `.nv_fatbin` ELF section nvcc emits), without
 * cuobjdump, which this toolkit install does not ship. Layout as observed from nvcc 12/13: a fat binary header
 * (magic 0xBA55ED50, u16 version, u16 header size, u64 size of the entries), then entries of
 * (u16 kind: 1 = PTX, 2 = cubin; u16 version; u32 header size; u32 padded payload size; ...; u32 SM arch at +28).
 */
export interface FatbinEntry {
  readonly kind: 'ptx' | 'cubin' | `kind ${number}`;
  readonly arch: number;
  readonly bytes: number;
}

const FATBIN_MAGIC = 0xba55ed50;

function section(data: Buffer, wanted: string): { offset: number; size: number } | undefined {
  if (data.readUInt32BE(0) !== 0x7f454c46 || data[4] !== 2) throw new Error('not a 64-bit ELF file');
  const shoff = Number(data.readBigUInt64LE(0x28));
  const shentsize = data.readUInt16LE(0x3a);
  const shnum = data.readUInt16LE(0x3c);
  const shstrndx = data.readUInt16LE(0x3e);
  const header = (i: number) => shoff + i * shentsize;
  const names = Number(data.readBigUInt64LE(header(shstrndx) + 0x18));
  for (let i = 0; i < shnum; i++) {
    const nameOffset = names + data.readUInt32LE(header(i));
    const name = data.toString('latin1', nameOffset, data.indexOf(0, nameOffset));
    if (name === wanted) {
      return {
        offset: Number(data.readBigUInt64LE(header(i) + 0x18)),
        size: Number(data.readBigUInt64LE(header(i) + 0x20)),
      };
    }
  }
  return undefined;
}

export function fatbinEntries(path: string): FatbinEntry[] {
  const data = readFileSync(path);
  const fatbin = section(data, '.nv_fatbin');
  if (!fatbin) return [];
  const entries: FatbinEntry[] = [];
  const end = fatbin.offset + fatbin.size;
  let pos = fatbin.offset;
  while (pos + 16 <= end) {
    if (data.readUInt32LE(pos) !== FATBIN_MAGIC) {
      pos += 8; // fat binaries are 8-byte aligned inside the section
      continue;
    }
    const headerSize = data.readUInt16LE(pos + 6);
    const entriesEnd = pos + headerSize + Number(data.readBigUInt64LE(pos + 8));
    let e = pos + headerSize;
    while (e < entriesEnd) {
      const kind = data.readUInt16LE(e);
      const size = data.readUInt32LE(e + 4);
      const payload = data.readUInt32LE(e + 8);
      entries.push({
        kind: kind === 1 ? 'ptx' : kind === 2 ? 'cubin' : `kind ${kind}`,
        arch: data.readUInt32LE(e + 28),
        bytes: payload,
      });
      e += size + payload;
    }
    pos = entriesEnd;
  }
  return entries;
}
