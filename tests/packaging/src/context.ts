import type { ImportResult } from './consumer.js';
import type { Tarball } from './pack.js';

/** What the global setup prepared once for every test file. */
export interface PackagingContext {
  /** The temporary folder (under os.tmpdir()) holding everything below. */
  readonly work: string;
  /** The project that installed the tarballs. */
  readonly consumer: string;
  readonly tarballs: readonly Tarball[];
  /** Every exported specifier, imported in Node before any optional peer was installed. */
  readonly importsWithoutPeers: Readonly<Record<string, ImportResult>>;
  /** The optional peers installed after that, by the public packages' folders that declare them. */
  readonly linkedPeers: readonly { readonly peer: string; readonly declaredBy: string }[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    packaging: PackagingContext;
  }
}
