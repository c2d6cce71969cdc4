/**
 * Reading a TLS listener's certificate chain and private key from PEM files, with the checks a
 * server owes its key: a key file readable by its group or by everyone is refused (like OpenSSH's
 * "UNPROTECTED PRIVATE KEY FILE"), and no error message ever carries key material, only file names.
 *
 * @module
 */

/** A certificate chain and its private key, PEM text. */
export interface TlsMaterial {
  /** Certificate chain, leaf first. */
  cert: string;
  /** Private key (never logged). */
  key: string;
}

/** Where a listener's certificate and key are. */
export interface TlsFiles {
  /** PEM certificate chain file. */
  certFile: string;
  /** PEM private key file; must not be readable by group or others. */
  keyFile: string;
}

/** A certificate or key file cannot be used; `file` names it. */
export class TlsFileError extends Error {
  /** The file at fault. */
  readonly file: string;
  /**
   * @param message what is wrong, naming the file
   * @param file the file at fault
   * @param options cause
   */
  constructor(message: string, file: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsFileError";
    this.file = file;
  }
}

/** Permission bits that make a private key readable by someone other than its owner. */
const GROUP_WORLD_READ = 0o044;

/**
 * Reads and checks a certificate chain and key.
 *
 * @param files the two paths
 * @returns the PEM texts
 * @throws {TlsFileError} when a file is missing, unreadable, not PEM of the right kind, or the
 *   key file has group or world read bits
 * @example
 * ```ts
 * const { cert, key } = readTlsFiles({ certFile: "site.crt", keyFile: "site.key" });
 * ```
 */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const { certFile, keyFile } = files;
  let mode: number | null;
  try {
    mode = Deno.statSync(keyFile).mode;
  } catch (e) {
    throw new TlsFileError(`Cannot read TLS key file "${keyFile}": ${(e as Error).message}`, keyFile, { cause: e });
  }
  if (mode !== null && (mode & GROUP_WORLD_READ) !== 0) {
    throw new TlsFileError(
      `Refusing TLS key file "${keyFile}": mode ${(mode & 0o777).toString(8).padStart(3, "0")} lets group or ` +
        `others read it (chmod 600)`,
      keyFile,
    );
  }
  const cert = readText(certFile, "certificate");
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
    throw new TlsFileError(`Cannot use TLS certificate file "${certFile}": no PEM certificate in it`, certFile);
  }
  const key = readText(keyFile, "key");
  if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(key)) {
    throw new TlsFileError(`Cannot use TLS key file "${keyFile}": no PEM private key in it`, keyFile);
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(key)) {
    throw new TlsFileError(`Cannot use TLS key file "${keyFile}": encrypted keys are not supported`, keyFile);
  }
  return { cert, key };
}

function readText(file: string, what: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new TlsFileError(`Cannot read TLS ${what} file "${file}": ${(e as Error).message}`, file, { cause: e });
  }
}
