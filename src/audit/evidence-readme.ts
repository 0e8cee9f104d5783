/** The README inside an evidence bundle: what each file is and how to check it without us. */
import type { EvidenceManifest } from "./evidence.ts";

export function evidenceReadme(manifest: EvidenceManifest): string {
  const { records, range, origin } = manifest;
  const last = manifest.checkpoints.at(-1);
  const outside =
    records.outsideRange.length === 0
      ? "none"
      : records.outsideRange.map(([a, b]) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`)).join(", ");
  return `# Portcullis audit evidence

Audit log \`${origin}\`, calls from ${range.from} up to (not including) ${range.to}.
Records ${records.first}–${records.end - 1} of the log, ${records.inRange} of them in the range.
Records outside the range, included so that a signed checkpoint covers every
record in it (they are part of the proof, not of the period): ${outside}.

## Verify it

Obtain the log's verifier key from its operator through a channel you trust
(\`portcullis audit pubkey\` prints it) and compare it with \`verifier.pub\`; a
bundle that brings its own key can only prove it is internally consistent.
Then, with Portcullis installed, offline:

    portcullis audit verify --bundle . --key verifier.pub

Exit code 0 and "verified" means: every checkpoint is signed by that key and
names that log; replaying the tree from \`base.json\` over every line of
\`records.jsonl\` reproduces the signed root of every checkpoint from size
${records.first + 1} on (the last, size ${last ?? "?"}, covers the whole range);
each record is exactly canonical JSON whose \`seq\` is its position; every
referenced blob hashes to the SHA-256 its record states; and each consistency
proof in \`proofs.json\` links consecutive checkpoints. On failure it names the
first bad record or checkpoint. Nothing in the bundle is trusted on its own
say-so: \`base.json\` only counts because, with the records, it reproduces a
signed root, and a single changed byte changes that root.

## Files

- \`records.jsonl\` — one record per line; line *i* is record ${records.first} + *i*. Each line
  is the record's RFC 8785 (JSON Canonicalization Scheme) form, the exact bytes
  hashed as a Merkle leaf: SHA-256(0x00 || line bytes), RFC 6962 §2.1.
- \`base.json\` — \`{size, frontier}\`: the Merkle tree of the log's first \`size\`
  records as its compact range (the roots of its perfect subtrees, largest
  first, hex). The replay starts here; the tree's root is RFC 6962's MTH.
- \`checkpoints.json\` — the signed checkpoints covering the records (and the last
  one before them, to link this bundle to checkpoints you may already hold):
  C2SP tlog-checkpoint bodies (origin, tree size, base64 root hash) in C2SP
  signed notes with Ed25519 signatures (https://c2sp.org/tlog-checkpoint,
  https://c2sp.org/signed-note). \`checkpoints.txt\` holds the same notes to read.
- \`proofs.json\` — RFC 6962 §2.1.2 consistency proofs (hex) between consecutive
  checkpoints: \`{from, to, proof}\`, verifiable per RFC 9162 §2.1.4.2 with any
  transparency-log library, given the two signed roots.
- \`blobs/<sha256>\` — bodies too large to keep inside their records, named by SHA-256.
- \`verifier.pub\` — the verifier key the bundle was made with (C2SP note key format).
- \`summary.json\`, \`summary.md\` — per agent or person: calls, refusals, failures,
  approvals and who gave them, fields masking changed, first and last call. A
  convenience derived from the records; the records are the evidence.
- \`manifest.json\` — what was exported and the SHA-256 of each file, for your
  chain of custody. Verification does not rely on it.
`;
}
