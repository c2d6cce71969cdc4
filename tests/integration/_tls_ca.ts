/**
 * A throw-away certificate authority for TLS tests, made with `openssl` in a temporary directory
 * at test time (nothing secret is committed). Keys are written mode 0600.
 *
 * @module
 */

/** A certificate and key on disk. */
export interface TestCert {
  /** PEM certificate file. */
  certFile: string;
  /** PEM private key file (mode 0600). */
  keyFile: string;
}

/** A test CA in a temporary directory. */
export interface TestCa {
  /** The directory holding everything; remove it with {@link TestCa.remove}. */
  dir: string;
  /** The CA certificate file. */
  caFile: string;
  /** The CA certificate, PEM. */
  caPem: string;
  /**
   * Issues a leaf certificate signed by the CA.
   *
   * @param name file name stem and common name
   * @param sans subjectAltName entries, e.g. `["DNS:localhost", "IP:127.0.0.1"]`
   */
  issue(name: string, sans: string[]): Promise<TestCert>;
  /**
   * Makes a self-signed certificate (not signed by the CA).
   *
   * @param name file name stem and common name
   * @param sans subjectAltName entries
   */
  selfSigned(name: string, sans: string[]): Promise<TestCert>;
  /** Deletes the directory. */
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Creates a CA (P-256 keys, valid two days).
 *
 * @returns the CA and a way to issue certificates
 */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await Deno.makeTempDir({ prefix: "webcache-tls-" });
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=webcache test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  const caFile = `${dir}/ca.pem`;
  const leaf = async (name: string, sans: string[], signed: boolean): Promise<TestCert> => {
    const ext = `${dir}/${name}.ext`;
    await Deno.writeTextFile(
      ext,
      `subjectAltName=${sans.join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name}`,
    ], dir);
    const sign = signed ? ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"] : ["-key", `${name}.key`];
    await openssl(
      ["x509", "-req", "-in", `${name}.csr`, ...sign, "-out", `${name}.pem`, "-days", "2", "-extfile", ext],
      dir,
    );
    await Deno.chmod(`${dir}/${name}.key`, 0o600);
    return { certFile: `${dir}/${name}.pem`, keyFile: `${dir}/${name}.key` };
  };
  return {
    dir,
    caFile,
    caPem: await Deno.readTextFile(caFile),
    issue: (name, sans) => leaf(name, sans, true),
    selfSigned: (name, sans) => leaf(name, sans, false),
    remove: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}
