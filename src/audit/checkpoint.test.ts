import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Checkpoint,
  CheckpointError,
  formatCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
} from "./checkpoint.ts";
import { CompactRange, leafHash } from "./merkle.ts";
import { generateSigner, NoteError, parseSignerKey, parseVerifierKey } from "./note.ts";

// A real signed tree head of the Go checksum database, retrieved from
// https://sum.golang.org/latest on 2024-09-23, as recorded in
// github.com/sigsum/sigsum-go pkg/checkpoint/checkpoint_test.go; its key is
// the one compiled into the go command (src/cmd/go/internal/modfetch/key.go).
const sumdbKey = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const sumdbBody = "go.sum database tree\n30055305\nmXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n";
const sumdbNote = `${sumdbBody}\n— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n`;
// The example body in https://c2sp.org/tlog-checkpoint.
const c2spBody =
  "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

const root32 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

function refusesCheckpoint(action: () => unknown, message: string): void {
  assert.throws(action, (err: unknown) => {
    assert.ok(err instanceof CheckpointError, String(err));
    assert.equal(err.code, "malformed_checkpoint");
    assert.equal(err.message, `malformed checkpoint: ${message}`);
    return true;
  });
}

describe("verifyCheckpoint", () => {
  test("verifies a real sum.golang.org checkpoint with the published key", () => {
    assert.equal(parseVerifierKey(sumdbKey).keyId, 0x033de0ae);
    const checkpoint = verifyCheckpoint(sumdbNote, sumdbKey, "go.sum database tree");
    assert.equal(checkpoint.origin, "go.sum database tree");
    assert.equal(checkpoint.size, 30055305);
    assert.equal(
      checkpoint.rootHash.toString("base64"),
      "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=",
    );
    assert.equal(formatCheckpoint(checkpoint), sumdbBody);
  });

  test("refuses a checkpoint from another log", () => {
    assert.throws(
      () => verifyCheckpoint(sumdbNote, sumdbKey, "portcullis.example/audit"),
      (err: unknown) =>
        err instanceof CheckpointError &&
        err.code === "wrong_origin" &&
        err.message ===
          'checkpoint origin "go.sum database tree" is not the expected "portcullis.example/audit"',
    );
  });

  test("refuses the real checkpoint when its size, root or signature changes", () => {
    const bigger = sumdbNote.replace("30055305", "30055306");
    assert.throws(() => verifyCheckpoint(bigger, sumdbKey, "go.sum database tree"), {
      code: "invalid_signature",
    });
    const otherRoot = sumdbNote.replace("mXfgRc", "mXfgRd");
    assert.throws(() => verifyCheckpoint(otherRoot, sumdbKey, "go.sum database tree"), {
      code: "invalid_signature",
    });
    const otherSig = sumdbNote.replace("Az3grpgE", "Az3grpgF");
    assert.throws(() => verifyCheckpoint(otherSig, sumdbKey, "go.sum database tree"), {
      code: "invalid_signature",
    });
  });

  test("round-trips a signed checkpoint of a real tree", () => {
    const { signerKey, verifierKey } = generateSigner("portcullis.example/audit");
    const range = new CompactRange();
    for (let seq = 0; seq < 5; seq++) range.append(leafHash(Buffer.from(`{"seq":${seq}}`)));
    const checkpoint: Checkpoint = {
      origin: "portcullis.example/audit",
      size: range.size,
      rootHash: range.root(),
    };
    const note = signCheckpoint(checkpoint, parseSignerKey(signerKey));
    assert.deepEqual(verifyCheckpoint(note, verifierKey, "portcullis.example/audit"), checkpoint);
    assert.deepEqual(
      verifyCheckpoint(note, parseVerifierKey(verifierKey), "portcullis.example/audit"),
      checkpoint,
    );
  });

  test("refuses a checkpoint signed by another key", () => {
    const signer = parseSignerKey(generateSigner("portcullis.example/audit").signerKey);
    const impostor = generateSigner("portcullis.example/audit").verifierKey;
    const note = signCheckpoint(parseCheckpoint(c2spBody), signer);
    assert.throws(() => verifyCheckpoint(note, impostor, "example.com/behind-the-sofa"), {
      code: "unverified_note",
    });
  });

  test("refuses any one-character change to a signed checkpoint", () => {
    const signer = parseSignerKey(generateSigner("log.example").signerKey);
    const note = signCheckpoint(
      parseCheckpoint(c2spBody.replace("example.com/behind-the-sofa", "log.example")),
      signer,
    );
    for (let i = 0; i < note.length; i++) {
      const changed = `${note.slice(0, i)}${String.fromCharCode(note.charCodeAt(i) ^ 0x02)}${note.slice(i + 1)}`;
      assert.throws(
        () => verifyCheckpoint(changed, signer.verifierKey, "log.example"),
        (err: unknown) => err instanceof NoteError || err instanceof CheckpointError,
        `position ${i}`,
      );
    }
  });
});

describe("parseCheckpoint and formatCheckpoint", () => {
  test("parses the c2sp example and formats it back byte for byte", () => {
    const checkpoint = parseCheckpoint(c2spBody);
    assert.equal(checkpoint.origin, "example.com/behind-the-sofa");
    assert.equal(checkpoint.size, 20852163);
    assert.equal(checkpoint.rootHash.length, 32);
    assert.equal(checkpoint.extensions, undefined);
    assert.equal(formatCheckpoint(checkpoint), c2spBody);
  });

  test("keeps extension lines in order", () => {
    const body = `${c2spBody}timestamp 1700000000\nanother\n`;
    const checkpoint = parseCheckpoint(body);
    assert.deepEqual(checkpoint.extensions, ["timestamp 1700000000", "another"]);
    assert.equal(formatCheckpoint(checkpoint), body);
  });

  test("accepts the empty tree", () => {
    const body = "log.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
    assert.equal(parseCheckpoint(body).size, 0);
  });

  // The malformed bodies of transparency-dev/formats log/checkpoint_test.go,
  // plus what c2sp.org/tlog-checkpoint rules out beyond them.
  const malformed: [string, string, string][] = [
    ["too few lines", "Head\n9944\n", "needs origin, tree size and root hash lines"],
    ["an empty origin", `\n9944\n${root32}\n`, "empty origin"],
    ["no final newline", `Log\n123\n${root32}`, "text must end with a newline"],
    [
      "a size that is not a number",
      `Log\nbananas\n${root32}\n`,
      'tree size "bananas" is not a decimal number without leading zeros',
    ],
    [
      "a negative size",
      `Log\n-34\n${root32}\n`,
      'tree size "-34" is not a decimal number without leading zeros',
    ],
    [
      "a leading zero",
      `Log\n0123\n${root32}\n`,
      'tree size "0123" is not a decimal number without leading zeros',
    ],
    [
      "a plus sign",
      `Log\n+5\n${root32}\n`,
      'tree size "+5" is not a decimal number without leading zeros',
    ],
    [
      "a size too large",
      `Log\n3438945738945739845734895735\n${root32}\n`,
      "tree size 3438945738945739845734895735 is too large",
    ],
    [
      "a root that is not base64",
      "Log\n123\nThisIsn'tBase64\n",
      "root hash is not the base64 of 32 bytes",
    ],
    [
      "a root of the wrong length",
      "Log\n123\nYmFuYW5hcw==\n",
      "root hash is not the base64 of 32 bytes",
    ],
    [
      "a non-canonical root",
      `Log\n123\n${root32.replace("2I=", "2J=")}\n`,
      "root hash is not the base64 of 32 bytes",
    ],
    ["an empty extension line", `${c2spBody}\n`, "empty extension line"],
  ];
  for (const [what, body, message] of malformed) {
    test(`refuses a body with ${what}`, () =>
      refusesCheckpoint(() => parseCheckpoint(body), message));
  }

  test("refuses to format what it could not parse", () => {
    const rootHash = Buffer.alloc(32);
    refusesCheckpoint(() => formatCheckpoint({ origin: "", size: 1, rootHash }), "empty origin");
    refusesCheckpoint(
      () => formatCheckpoint({ origin: "a\nb", size: 1, rootHash }),
      "origin contains a newline",
    );
    refusesCheckpoint(
      () => formatCheckpoint({ origin: "log", size: -1, rootHash }),
      "tree size -1 is not a non-negative integer",
    );
    refusesCheckpoint(
      () => formatCheckpoint({ origin: "log", size: 2 ** 53, rootHash }),
      "tree size 9007199254740992 is not a non-negative integer",
    );
    refusesCheckpoint(
      () => formatCheckpoint({ origin: "log", size: 1, rootHash: Buffer.alloc(31) }),
      "root hash must be 32 bytes",
    );
    refusesCheckpoint(
      () => formatCheckpoint({ origin: "log", size: 1, rootHash, extensions: [""] }),
      "empty extension line",
    );
  });
});
