import { assert, assertEquals, assertStringIncludes, assertThrows } from "../tests/_assert.ts";
import { makeTestCa } from "../tests/integration/_tls_ca.ts";
import { readTlsFiles, TlsFileError } from "./tls_files.ts";

Deno.test("readTlsFiles() reads a certificate and a mode 0600 key", async () => {
  const ca = await makeTestCa();
  try {
    const c = await ca.issue("a", ["DNS:localhost"]);
    const m = readTlsFiles(c);
    assertStringIncludes(m.cert, "BEGIN CERTIFICATE");
    assertStringIncludes(m.key, "PRIVATE KEY");
  } finally {
    await ca.remove();
  }
});

Deno.test("readTlsFiles() refuses keys readable by group or others, and bad files, naming the file only", async () => {
  const ca = await makeTestCa();
  try {
    const c = await ca.issue("a", ["DNS:localhost"]);
    const table: { name: string; mode: number; refused: boolean }[] = [
      { name: "0600", mode: 0o600, refused: false },
      { name: "0400", mode: 0o400, refused: false },
      { name: "0640 group read", mode: 0o640, refused: true },
      { name: "0604 world read", mode: 0o604, refused: true },
      { name: "0644", mode: 0o644, refused: true },
    ];
    for (const row of table) {
      await Deno.chmod(c.keyFile, row.mode);
      if (!row.refused) {
        readTlsFiles(c);
        continue;
      }
      const e = assertThrows(() => readTlsFiles(c), TlsFileError, undefined);
      assertEquals(e.file, c.keyFile, row.name);
      assertStringIncludes(e.message, c.keyFile);
      assert(!e.message.includes("BEGIN"), `${row.name}: key material in the message`);
    }
    await Deno.chmod(c.keyFile, 0o600);
    await Deno.writeTextFile(`${ca.dir}/junk.pem`, "junk\n");
    const e1 = assertThrows(() => readTlsFiles({ ...c, certFile: `${ca.dir}/junk.pem` }), TlsFileError);
    assertStringIncludes(e1.message, "junk.pem");
    const e2 = assertThrows(() => readTlsFiles({ ...c, keyFile: `${ca.dir}/missing.key` }), TlsFileError);
    assertStringIncludes(e2.message, "missing.key");
    await Deno.writeTextFile(`${ca.dir}/nokey.key`, "-----BEGIN CERTIFICATE-----\n", { mode: 0o600 });
    const e3 = assertThrows(() => readTlsFiles({ ...c, keyFile: `${ca.dir}/nokey.key` }), TlsFileError);
    assertStringIncludes(e3.message, "no PEM private key");
  } finally {
    await ca.remove();
  }
});
