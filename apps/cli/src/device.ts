import os from 'node:os';

/** The machine a benchmark ran on: enough to tell whether two result files are comparable. */
export interface DeviceInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly memoryGiB: number;
}

export function deviceInfo(): DeviceInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
}

/** A file-name-safe tag for the machine, e.g. `amd-epyc-2c`. */
export function machineTag(device: DeviceInfo): string {
  const model = device.cpu
    .toLowerCase()
    .replace(/\((r|tm)\)|cpu|processor|@.*$|\d+-core/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .split('-')
    .slice(0, 4)
    .join('-');
  return `${model || 'cpu'}-${device.cores}c`;
}
