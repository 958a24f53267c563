import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { scramKeys, scramVerifier, verifierMatches } from "./scram";

// RFC 7677, section 3: user "user", password "pencil". The server proves it holds the right ServerKey with v=, and
// the client proof p= is ClientKey XOR HMAC(StoredKey, AuthMessage): both are checked against our keys.
const SALT = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
const AUTH_MESSAGE =
  "n=user,r=rOprNGfwEbeRWgbNEkqO," +
  "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

test("the keys of RFC 7677's example reproduce its server signature and client proof", () => {
  const { storedKey, serverKey } = scramKeys("pencil", SALT, 4096);
  const serverSignature = createHmac("sha256", serverKey).update(AUTH_MESSAGE).digest("base64");
  assert.equal(serverSignature, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  // StoredKey = H(ClientKey), ClientKey = proof XOR signature: recover it from the RFC's proof and hash it.
  const clientSignature = createHmac("sha256", storedKey).update(AUTH_MESSAGE).digest();
  const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
  const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
  assert.deepEqual(require("node:crypto").createHash("sha256").update(clientKey).digest(), storedKey);
});

test("verifiers have Postgres's format, a fresh salt each time, and are recognised for their password only", () => {
  const a = scramVerifier("s3cret pässword");
  const b = scramVerifier("s3cret pässword");
  assert.match(a, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  assert.notEqual(a, b);
  assert.ok(verifierMatches(a, "s3cret pässword"));
  assert.ok(!verifierMatches(a, "s3cret password"));
  assert.ok(!verifierMatches("md5abc", "s3cret pässword"));
  assert.ok(!verifierMatches(undefined, "x"));
});

test("SASLprep: a non-breaking space is a space, as libpq sends it", () => {
  const salt = Buffer.alloc(16, 7);
  assert.equal(scramVerifier("a\u00a0b", salt), scramVerifier("a b", salt));
});
