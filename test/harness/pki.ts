// A throwaway certificate authority for the local servers (kube-apiserver, PostgreSQL with TLS): a CA, and leaf
// certificates it signs, made with openssl in a directory, valid for two days.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** Writes ca.key and ca.crt, a self-signed CA named `commonName`. */
export function makeCa(dir: string, commonName: string): void {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${commonName}`,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  );
}

/** Writes `<name>.key` and `<name>.crt` for `subject`, signed by the CA in `dir`, with the extensions in `ext`. */
export function signLeaf(dir: string, name: string, subject: string, ext: string): void {
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  // biome-ignore format: one openssl invocation, read as one line
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.crt`);
}
