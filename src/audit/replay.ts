/**
 * Replaying the log's Merkle tree from a known state (the empty tree, a
 * pruned log's base, a bundle's base): what the verifier, the evidence
 * writer and retention share. Besides the running frontier, a replay keeps
 * the leaves since the last checkpoint it was told about, so it can prove
 * (RFC 6962 consistency proof) that each checkpoint extends the one before
 * at the cost of about one extra node hash per record.
 */

import { parseCheckpoint } from "./checkpoint.ts";
import { CompactRange, consistencyProof, type TreeState } from "./merkle.ts";

/** Beyond this many leaves between two checkpoints, skip the proof rather than hold them all. */
const maxIntervalLeaves = 1 << 21;

export interface IntervalProof {
  from: number;
  to: number;
  proof: Buffer[];
}

/** The root a checkpoint note states, read without checking its signature (the verifier does that). */
export function statedRoot(note: string): { size: number; rootHash: Buffer } {
  const split = note.lastIndexOf("\n\n");
  const checkpoint = parseCheckpoint(split < 0 ? note : note.slice(0, split + 1));
  return { size: checkpoint.size, rootHash: checkpoint.rootHash };
}

/** The frontier nodes of a tree state, keyed as merkle.ts's NodeHashSource asks for them. */
function frontierNodes(state: TreeState): Map<string, Buffer> {
  const nodes = new Map<string, Buffer>();
  let start = 0;
  let level = Math.floor(Math.log2(Math.max(state.size, 1)));
  for (const hex of state.frontier) {
    while (2 ** level > state.size - start) level--;
    nodes.set(`${level}:${start / 2 ** level}`, Buffer.from(hex, "hex"));
    start += 2 ** level;
  }
  return nodes;
}

export class TreeReplay {
  readonly #tree: CompactRange;
  /** The state at the last mark, and the leaves appended since (undefined once too many). */
  #markState: TreeState;
  #leaves: Buffer[] | undefined = [];

  constructor(start: TreeState = { size: 0, frontier: [] }) {
    this.#tree = CompactRange.fromJSON(start);
    this.#markState = this.#tree.toJSON();
  }

  get size(): number {
    return this.#tree.size;
  }

  append(leaf: Buffer): void {
    this.#tree.append(leaf);
    if (this.#leaves === undefined) return;
    if (this.#leaves.length < maxIntervalLeaves) this.#leaves.push(leaf);
    else this.#leaves = undefined;
  }

  root(): Buffer {
    return this.#tree.root();
  }

  state(): TreeState {
    return this.#tree.toJSON();
  }

  /**
   * Marks a checkpoint at the current size and returns the consistency proof
   * from the previous mark, built from the previous frontier and the leaves
   * since: undefined from the empty tree (nothing to prove) or when the
   * interval was too long to keep.
   */
  mark(): IntervalProof | undefined {
    const from = this.#markState.size;
    const to = this.size;
    let result: IntervalProof | undefined;
    if (from > 0 && to > from && this.#leaves !== undefined) {
      const nodes = frontierNodes(this.#markState);
      const leaves = this.#leaves;
      const proof = consistencyProof(
        from,
        to,
        function leafAt(index) {
          const leaf = index >= from ? leaves[index - from] : nodes.get(`0:${index}`);
          if (leaf === undefined) throw new RangeError(`leaf ${index} is not in the replay`);
          return leaf;
        },
        (level, index) => nodes.get(`${level}:${index}`),
      );
      result = { from, to, proof };
    }
    this.#markState = this.#tree.toJSON();
    this.#leaves = [];
    return result;
  }
}
