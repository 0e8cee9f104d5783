import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ed25519KeyId,
  ed25519VerifierKey,
  generateSigner,
  NoteError,
  type NoteErrorCode,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "./note.ts";

// Vectors from golang.org/x/mod/sumdb/note (note_test.go and the package
// documentation, github.com/golang/mod commit 02c991387e35f9e4c0a9b7ce137717055f8d716d).
const peterKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const peterSignerKey =
  "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const enochKey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const text =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const peterBase64 =
  "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
const enochBase64 =
  "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=";
const peterSig = `— PeterNeumann ${peterBase64}\n`;
const enochSig = `— EnochRoot ${enochBase64}\n`;
const peter = { name: "PeterNeumann", keyId: 0xc74f20a3, base64: peterBase64 };
const enoch = { name: "EnochRoot", keyId: 0xaf0cfe78, base64: enochBase64 };

const peterVerifier = parseVerifierKey(peterKey);
const enochVerifier = parseVerifierKey(enochKey);

function refuses(action: () => unknown, code: NoteErrorCode, message?: string | RegExp): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof NoteError, String(err));
    assert.equal(err.code, code, err.message);
    if (typeof message === "string") assert.equal(err.message, message);
    else if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe("keys", () => {
  test("parses the published verifier key and computes the same key ID", () => {
    assert.equal(peterVerifier.name, "PeterNeumann");
    assert.equal(peterVerifier.keyId, 0xc74f20a3);
    const publicKey = Buffer.from(
      "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "base64",
    ).subarray(1);
    assert.equal(ed25519KeyId("PeterNeumann", publicKey), 0xc74f20a3);
    assert.equal(ed25519VerifierKey("PeterNeumann", publicKey), peterKey);
  });

  test("derives the published verifier key from the published signer key", () => {
    const signer = parseSignerKey(peterSignerKey);
    assert.equal(signer.name, "PeterNeumann");
    assert.equal(signer.keyId, 0xc74f20a3);
    assert.equal(signer.verifierKey, peterKey);
  });

  for (const [kind, key, parse] of [
    ["verifier", peterKey, parseVerifierKey],
    ["signer", peterSignerKey, parseSignerKey],
  ] as const) {
    test(`refuses every truncation and every one-character change of the ${kind} key`, () => {
      for (let i = 0; i <= key.length; i++) {
        for (let j = i + 1; j <= key.length; j++) {
          if (i !== 0 || j !== key.length) refuses(() => parse(key.slice(i, j)), "malformed_key");
        }
      }
      for (let i = 0; i < key.length; i++) {
        const changed =
          key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
        refuses(() => parse(changed), "malformed_key");
      }
    });
  }

  test("refuses a wrong-length key and an unknown algorithm, each with an adjusted key ID", () => {
    const long = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    refuses(() => parseVerifierKey(long), "malformed_key", /verifier key/);
    const unknown = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    refuses(() => parseVerifierKey(unknown), "malformed_key", "unknown verifier key algorithm 101");
    refuses(
      () => parseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
      "malformed_key",
      "verifier key ID does not match its name and key",
    );
    refuses(
      () =>
        parseSignerKey(
          "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        ),
      "malformed_key",
      "signer key ID does not match its name and key",
    );
    refuses(() => parseSignerKey(peterKey), "malformed_key", "malformed signer key");
  });

  test("generates a key pair whose strings parse and agree", () => {
    const { signerKey, verifierKey } = generateSigner("portcullis.example/audit");
    assert.match(
      signerKey,
      /^PRIVATE\+KEY\+portcullis\.example\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/,
    );
    assert.match(verifierKey, /^portcullis\.example\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    assert.equal(signer.verifierKey, verifierKey);
    assert.equal(signer.keyId, verifier.keyId);
    assert.notEqual(generateSigner("portcullis.example/audit").signerKey, signerKey);
  });

  test("refuses key names that are empty or hold a space or a plus", () => {
    for (const name of [
      "",
      "a b",
      "a+b",
      "tab\there",
      "nbsp\u00a0",
      "line\u2028sep",
      "nel\u0085",
    ]) {
      refuses(
        () => generateSigner(name),
        "malformed_key",
        `invalid key name ${JSON.stringify(name)}`,
      );
    }
  });
});

describe("signNote", () => {
  test("produces exactly the published signed note", () => {
    assert.equal(signNote(text, parseSignerKey(peterSignerKey)), `${text}\n${peterSig}`);
  });

  test("signs with several keys, one line each, in order", () => {
    const other = parseSignerKey(generateSigner("other.example").signerKey);
    const note = signNote(text, parseSignerKey(peterSignerKey), other);
    assert.ok(note.startsWith(`${text}\n${peterSig}— other.example `));
    const opened = openNote(note, [peterVerifier, parseVerifierKey(other.verifierKey)]);
    assert.deepEqual(
      opened.sigs.map((s) => s.name),
      ["PeterNeumann", "other.example"],
    );
  });

  test("refuses text it could not open again", () => {
    const signer = parseSignerKey(peterSignerKey);
    refuses(
      () => signNote("abc", signer),
      "malformed_note",
      "malformed note: text must end with a newline",
    );
    refuses(
      () => signNote("a\tb\n", signer),
      "malformed_note",
      "malformed note: control character U+0009",
    );
    refuses(
      () => signNote("\ud800\n", signer),
      "malformed_note",
      "malformed note: not valid UTF-8",
    );
    refuses(() => signNote(text), "malformed_key", "signNote needs a signer");
  });
});

describe("openNote", () => {
  test("opens the published note with its verifier key", () => {
    assert.deepEqual(openNote(`${text}\n${peterSig}`, [peterVerifier]), {
      text,
      sigs: [peter],
      unverifiedSigs: [],
    });
    const bytes = new TextEncoder().encode(`${text}\n${peterSig}`);
    assert.equal(openNote(bytes, [peterVerifier]).text, text);
  });

  test("verifies known keys and sets aside unknown ones", () => {
    const note = `${text}\n${peterSig}${enochSig}`;
    assert.deepEqual(openNote(note, [peterVerifier]), {
      text,
      sigs: [peter],
      unverifiedSigs: [enoch],
    });
    assert.deepEqual(openNote(note, [peterVerifier, enochVerifier]).sigs, [peter, enoch]);
  });

  test("refuses a note signed only by unknown keys", () => {
    refuses(
      () => openNote(`${text}\n${peterSig}${enochSig}`, []),
      "unverified_note",
      "note has no verifiable signatures",
    );
    // Same name, other key ID; other name, same key ID: both unknown, so ignored.
    const wrongId = peterSig.replace("x08g", "xxxx");
    refuses(() => openNote(`${text}\n${wrongId}`, [peterVerifier]), "unverified_note");
    const wrongName = peterSig.replace("PeterNeumann", "CarmenSandiego");
    refuses(() => openNote(`${text}\n${wrongName}`, [peterVerifier]), "unverified_note");
  });

  test("refuses a verifier list that holds one key twice, when that key signed", () => {
    const list = [enochVerifier, peterVerifier, enochVerifier];
    refuses(
      () => openNote(`${text}\n${enochSig}`, list),
      "ambiguous_key",
      "ambiguous key EnochRoot+af0cfe78",
    );
    assert.deepEqual(openNote(`${text}\n${peterSig}`, list).sigs, [peter]);
  });

  test("refuses a known key's bad signature even beside a good one", () => {
    const corrupt = `${peterSig.slice(0, 60)}ABCD${peterSig.slice(60)}`;
    refuses(
      () => openNote(`${text}\n${corrupt}`, [peterVerifier]),
      "invalid_signature",
      "invalid signature for key PeterNeumann+c74f20a3",
    );
    refuses(() => openNote(`${text}\n${peterSig}${corrupt}`, [peterVerifier]), "invalid_signature");
  });

  test("reports repeated signatures once", () => {
    const enochAbcd = `${enochSig.slice(0, 60)}ABCD${enochSig.slice(60)}`;
    const opened = openNote(`${text}\n${peterSig}${peterSig}${enochSig}${enochSig}${enochAbcd}`, [
      peterVerifier,
    ]);
    assert.deepEqual(opened.sigs, [peter]);
    assert.deepEqual(
      opened.unverifiedSigs.map((s) => s.base64),
      [enochBase64, enochAbcd.slice(12, -1)],
    );
  });

  test("accepts 100 signatures and refuses 101", () => {
    assert.equal(openNote(`${text}\n${peterSig.repeat(100)}`, [peterVerifier]).sigs.length, 1);
    refuses(
      () => openNote(`${text}\n${peterSig.repeat(101)}`, [peterVerifier]),
      "malformed_note",
      "malformed note: more than 100 signatures",
    );
  });

  const malformed: [string, string | Uint8Array, string][] = [
    ["no blank line", text, "no blank line before the signatures"],
    ["no signature lines", `${text}\n`, "no signature lines"],
    [
      "an unterminated signature line",
      `${text}\n${peterSig.slice(0, -1)}`,
      "signature lines must end with a newline",
    ],
    ["a control character", `\x01${text}\n${peterSig}`, "control character U+0001"],
    ["a carriage return", `${text}\n${peterSig.replace("\n", "\r\n")}`, "control character U+000d"],
    [
      "invalid UTF-8 bytes",
      Buffer.concat([Buffer.of(0xff), Buffer.from(`${text}\n${peterSig}`)]),
      "not valid UTF-8",
    ],
    ["a lone surrogate", `\ud800${text}\n${peterSig}`, "not valid UTF-8"],
    ["a spaced key name", `${text}\n— Bad Name ${peterBase64}\n`, "signature by Bad is not base64"],
    [
      "a plus in the key name",
      `${text}\n— Peter+Neumann ${peterBase64}\n`,
      'invalid key name "Peter+Neumann"',
    ],
    ["an empty key name", `${text}\n—  ${peterBase64}\n`, 'invalid key name ""'],
    ["a missing signature", `${text}\n— PeterNeumann\n`, "signature by PeterNeumann is not base64"],
    [
      "bad base64",
      `${text}\n— PeterNeumann ${peterBase64.slice(1)}\n`,
      "signature by PeterNeumann is not base64",
    ],
    [
      "non-canonical base64",
      `${text}\n— PeterNeumann ${peterBase64.replace("AM=", "AN=")}\n`,
      "signature by PeterNeumann is not base64",
    ],
    [
      "a signature shorter than a key ID and one byte",
      `${text}\n— PeterNeumann AAAAAA==\n`,
      "signature by PeterNeumann is too short",
    ],
    [
      "a hyphen for the em dash",
      `${text}\n- PeterNeumann ${peterBase64}\n`,
      "a signature line must start with an em dash and a space",
    ],
    [
      "a line after the signatures",
      `${text}\n${peterSig}Unexpected line.\n`,
      "a signature line must start with an em dash and a space",
    ],
  ];
  for (const [what, note, message] of malformed) {
    test(`refuses a note with ${what}`, () => {
      refuses(
        () => openNote(note, [peterVerifier]),
        "malformed_note",
        `malformed note: ${message}`,
      );
    });
  }

  test("refuses the note when any character of its text changes", () => {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\n") continue;
      const changed = `${text.slice(0, i)}${String.fromCharCode(text.charCodeAt(i) ^ 0x01)}${text.slice(i + 1)}`;
      refuses(() => openNote(`${changed}\n${peterSig}`, [peterVerifier]), "invalid_signature");
    }
  });

  test("refuses the note when any character of its signature changes", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (let i = 0; i < peterBase64.length - 1; i++) {
      const next = alphabet[(alphabet.indexOf(peterBase64[i] as string) + 1) % 64];
      const changed = `${peterBase64.slice(0, i)}${next}${peterBase64.slice(i + 1)}`;
      assert.throws(
        () => openNote(`${text}\n— PeterNeumann ${changed}\n`, [peterVerifier]),
        NoteError,
        `position ${i}`,
      );
    }
  });
});
