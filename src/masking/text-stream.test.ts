import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Readable } from "node:stream";
import { text as readText } from "node:stream/consumers";
import { describe, test } from "node:test";
import { seededRandom } from "../../test/support/random.ts";
import { defaultDetectors } from "./defaults.ts";
import { MaskingEngine } from "./engine.ts";
import { TextMasker, type TextMaskerOptions, textMaskingStream } from "./text-stream.ts";

const engine = new MaskingEngine({ detectors: defaultDetectors() });

const CARD = "4111 1111 1111 1111";
const EMAIL = "jane.doe@example.com";

/** Feeds `chunks` to a fresh masker; returns the output and the detectors counted. */
function run(chunks: Array<string | Buffer>, options: TextMaskerOptions = {}, using = engine) {
  const counted: string[] = [];
  const masker = new TextMasker(using, { ...options, onFinding: (id) => counted.push(id) });
  const parts: Buffer[] = [];
  for (const chunk of chunks) parts.push(...masker.push(Buffer.from(chunk)));
  parts.push(...masker.end());
  return { out: Buffer.concat(parts), counted };
}

const maskedText = (chunks: Array<string | Buffer>, options?: TextMaskerOptions) =>
  run(chunks, options).out.toString("utf8");

describe("text masker", () => {
  test("passes text with nothing to mask through unchanged, byte for byte", () => {
    const log = [
      "2025-11-28T08:37:00.123Z INFO started pod web-7d9f8b6c5-x2k4p\r\n",
      "I1128 08:37:01.000001       1 controller.go:42] synced 1234 objects\n",
      "ünïcödé ✓ 😀 résumé\n",
      "\n",
      "no trailing newline",
    ].join("");
    assert.equal(maskedText([log]), log);
    // Invalid UTF-8 too.
    const binary = Buffer.from([0x66, 0xff, 0xfe, 0x0a, 0xc3, 0x28, 0x0a]);
    assert.deepEqual(run([binary]).out, binary);
  });

  test("masks a line as soon as its newline arrives", () => {
    const masker = new TextMasker(engine);
    const first = masker.push(Buffer.from(`card ${CARD}\nsecond li`));
    assert.equal(Buffer.concat(first).toString(), "card **** **** **** 1111\n");
    assert.deepEqual(masker.push(Buffer.from("ne, still open")), []);
    assert.equal(Buffer.concat(masker.end()).toString(), "second line, still open");
  });

  test("keeps \\r\\n, also when \\r and \\n arrive in different chunks", () => {
    assert.equal(
      maskedText([`mail ${EMAIL}\r`, "\nok\r\n"]),
      "mail j*******@example.com\r\nok\r\n",
    );
  });

  test("masks values split at every byte offset across two chunks", () => {
    const text = `ünï ${EMAIL} 😀 card ${CARD} ✓ done\nnext ${EMAIL}\n`;
    const whole = maskedText([text]);
    assert.ok(!whole.includes(EMAIL) && !whole.includes(CARD));
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      assert.equal(maskedText([bytes.subarray(0, i), bytes.subarray(i)]), whole, `split at ${i}`);
    }
  });

  test("flushes a last line without newline, masked", () => {
    assert.equal(maskedText(["ok\n", `contact ${EMAIL}`]), "ok\ncontact j*******@example.com");
  });

  test("counts each masked value by detector", () => {
    const { counted } = run([`${CARD} ${EMAIL}\n${EMAIL}\n`]);
    assert.deepEqual(counted, ["card", "email", "email"]);
  });

  describe("long lines", () => {
    const options = { maxLineBytes: 256, overlapBytes: 64 };
    const filler = (n: number) =>
      "lorem ipsum dolor sit amet ".repeat(Math.ceil(n / 27)).slice(0, n);

    test("are masked and emitted in pieces before their newline arrives", () => {
      const masker = new TextMasker(engine, options);
      const out = masker.push(Buffer.from(filler(2000)));
      const emitted = out.reduce((n, b) => n + b.length, 0);
      assert.ok(emitted >= 2000 - 256, `emitted ${emitted} of 2000 bytes`);
      assert.equal(
        Buffer.concat([...out, ...masker.push(Buffer.from("\n")), ...masker.end()]).toString(),
        `${filler(2000)}\n`,
      );
    });

    test("catch a value wherever the cut falls, as masking the whole line would", () => {
      for (const value of [CARD, EMAIL, "GB82 WEST 1234 5698 7654 32"]) {
        for (let at = 150; at < 700; at += 7) {
          const line = `${filler(at)} ${value} ${filler(600)}\n`;
          const out = maskedText([line], options);
          assert.ok(!out.includes(value), `${value} at ${at}`);
          assert.equal(out, `${engine.mask(line.slice(0, -1))}\n`, `${value} at ${at}`);
        }
      }
    });

    test("are cut the same whatever the chunking", () => {
      const line = `${filler(200)} ${CARD} ${filler(300)} ssn 536904399 ${filler(300)}\n`;
      const whole = maskedText([line], options);
      for (let i = 0; i <= line.length; i += 13) {
        assert.equal(
          maskedText([line.slice(0, i), line.slice(i)], options),
          whole,
          `split at ${i}`,
        );
      }
    });

    test("carry a context word across the cut", () => {
      for (let at = 150; at < 400; at += 3) {
        const line = `${filler(at)} ssn 536904399 ${filler(400)}\n`;
        assert.ok(!maskedText([line], options).includes("536904399"), `at ${at}`);
      }
    });

    test("keep multi-byte characters whole across cuts", () => {
      const line = `${"ü😀é".repeat(300)}\n`;
      assert.equal(maskedText([line], options), line);
    });
  });

  describe("PEM private keys across lines", () => {
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "sec1", format: "pem" })
      .toString();
    const bodyLines = key.trim().split("\n").slice(1, -1);
    const log = `starting\nloaded key:\n${key}done, 4111 is no card\n`;

    test("masks every line between BEGIN and END, keeps the rest", () => {
      const { out, counted } = run([log]);
      const lines = out.toString().split("\n");
      assert.equal(lines[2], "-----BEGIN EC PRIVATE KEY-----");
      for (const [i, body] of bodyLines.entries()) {
        assert.equal(lines[3 + i], "*".repeat(body.length));
      }
      assert.equal(lines[3 + bodyLines.length], "-----END EC PRIVATE KEY-----");
      assert.equal(lines[4 + bodyLines.length], "done, 4111 is no card");
      assert.deepEqual(counted, ["pem-private-key"]);
    });

    test("the same whatever the chunking", () => {
      const whole = maskedText([log]);
      const bytes = Buffer.from(log);
      for (let i = 0; i <= bytes.length; i += 5) {
        assert.equal(maskedText([bytes.subarray(0, i), bytes.subarray(i)]), whole, `split at ${i}`);
      }
      const byBytes = Array.from(bytes, (b) => Buffer.from([b]));
      assert.equal(maskedText(byBytes), whole);
    });

    test("leaves certificates alone", () => {
      const cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
      assert.equal(maskedText([cert]), cert);
    });

    test("a key cut off by the end of the stream stays masked", () => {
      const cut = `${key.split("\n").slice(0, 3).join("\n")}`;
      assert.ok(!maskedText([cut]).includes(bodyLines[1] as string));
    });

    test("a profile without the key detector leaves keys alone", () => {
      const noKeys = new MaskingEngine({
        detectors: defaultDetectors().filter((d) => d.id !== "pem-private-key"),
      });
      assert.equal(run([log], {}, noKeys).out.toString(), log);
    });
  });

  describe("flushSafePrefix (typed input)", () => {
    /** Pushes `chunks`, calling flushSafePrefix after each; returns what each push and flush gave. */
    function typed(chunks: Array<string | Buffer>) {
      const masker = new TextMasker(engine);
      const steps: Array<{ pushed: Buffer; flushed: Buffer }> = [];
      for (const chunk of chunks) {
        const pushed = Buffer.concat(masker.push(Buffer.from(chunk)));
        steps.push({ pushed, flushed: Buffer.concat(masker.flushSafePrefix()) });
      }
      const all = [...steps.flatMap((s) => [s.pushed, s.flushed]), ...masker.end()];
      return { steps, out: Buffer.concat(all).toString("utf8"), masker };
    }
    const keys = (s: string) => [...s];

    test("shows `echo ` at once and never the card typed key by key", () => {
      const input = `echo ${CARD}\r\n`;
      const { steps, out } = typed(keys(input));
      const shown = (n: number) =>
        Buffer.concat(steps.slice(0, n).flatMap((s) => [s.pushed, s.flushed])).toString();
      assert.equal(shown("echo ".length), "echo ");
      for (let n = 0; n <= input.length; n++) assert.ok(!shown(n).includes("4111 1"), `at ${n}`);
      assert.equal(out, "echo **** **** **** 1111\r\n");
    });

    test("holds nothing of a short shell word typed key by key", () => {
      const { steps, out } = typed(keys("ls -la"));
      for (const [i, step] of steps.entries()) {
        assert.equal(step.pushed.length, 0);
        assert.equal(step.flushed.toString(), "ls -la"[i]);
      }
      assert.equal(out, "ls -la");
    });

    test("is idempotent", () => {
      const masker = new TextMasker(engine);
      masker.push(Buffer.from("echo 4111"));
      assert.equal(Buffer.concat(masker.flushSafePrefix()).toString(), "echo ");
      assert.deepEqual(masker.flushSafePrefix(), []);
      assert.equal(Buffer.concat(masker.end()).toString(), "4111");
    });

    test("a context word flushed before the value still counts", () => {
      const { out } = typed(keys("account 12345678\n"));
      assert.ok(!out.includes("12345678"), out);
      assert.equal(out, maskedText(["account 12345678\n"]));
      const ssn = typed(keys("ssn 536904399"));
      assert.ok(!ssn.out.includes("536904399"), ssn.out);
    });

    test("an email arriving in one piece is masked; typed key by key, its local part shows", () => {
      const pasted = typed([Buffer.from("mail "), Buffer.from(EMAIL), Buffer.from("\n")]);
      assert.ok(!pasted.out.includes(EMAIL), pasted.out);
      assert.equal(pasted.out, maskedText([`mail ${EMAIL}\n`]));
      // The documented limit: a lower-case word goes out as typed, before its `@`.
      const keyByKey = typed(keys(`mail ${EMAIL}\n`));
      assert.ok(keyByKey.out.startsWith("mail jane.doe"), keyByKey.out);
      // A word with a digit is held from the digit on.
      const numbered = typed(keys("mail jane7@example.com\n"));
      assert.ok(!numbered.out.includes("jane7@example.com"), numbered.out);
    });

    test("long lower-case words (typed commands, prose) go out key by key", () => {
      const { steps, out } = typed(keys("kubectl describe deployment payments-api"));
      assert.equal(out, "kubectl describe deployment payments-api");
      for (const step of steps) assert.equal(step.flushed.length + step.pushed.length, 1);
    });

    test("keeps IBAN letter groups and spaced values together", () => {
      for (const value of ["GB82 WEST 1234 5698 7654 32", "+1 (415) 555-2671", CARD]) {
        const line = `x ${value} y\n`;
        const { out } = typed(keys(line));
        assert.ok(!out.includes(value), `${value}: ${out}`);
      }
    });

    test("never splits a multi-byte character", () => {
      const text = "ünï 😀 résumé ✓ done\n";
      const bytes = Buffer.from(text);
      const { steps, out } = typed(Array.from(bytes, (b) => Buffer.from([b])));
      assert.equal(out, text);
      for (const step of steps) {
        if (step.flushed.length > 0) assert.ok(!step.flushed.toString().includes("\uFFFD"));
      }
    });

    test("flushes nothing while a private key is open", () => {
      const key = generateKeyPairSync("ec", { namedCurve: "P-256" })
        .privateKey.export({ type: "sec1", format: "pem" })
        .toString();
      const body = key.split("\n")[1] as string;
      const bytes = Buffer.from(`k ${key}`);
      for (let size = 1; size < 40; size += 3) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
        assert.ok(!typed(chunks).out.includes(body.slice(0, 16)), `chunks of ${size}`);
      }
    });

    test("random chunkings never show a value and keep clean text byte for byte", () => {
      // Not EMAIL: a lower-case local part goes out before its `@` (see above).
      const values = [CARD, "GB82 WEST 1234 5698 7654 32", "ssn 536904399", "account 12345678"];
      const words = ["echo", "ls", "-la", "kubectl", "get pods", "ünï", "😀", "12:30", "v1.2.3"];
      const rand = seededRandom(42);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
      for (let round = 0; round < 300; round++) {
        const seeded = rand() < 0.7;
        const parts: string[] = [];
        for (let n = 1 + Math.floor(rand() * 8); n > 0; n--) {
          parts.push(pick(words), pick([" ", " ", "\n", "\r\n", ": "]));
          if (seeded && rand() < 0.3) parts.push(pick(values), pick([" ", "\n"]));
        }
        const text = parts.join("");
        const bytes = Buffer.from(text);
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; ) {
          const size = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 12);
          chunks.push(bytes.subarray(i, i + size));
          i += size;
        }
        const { out } = typed(chunks);
        const whole = maskedText([text]);
        for (const value of values) {
          const bare = value.replace(/^(ssn|account) /, "");
          // Only what masking the whole text hides (`v1.2.3 4111 …` is 17 digits, no card).
          if (whole.includes(bare)) continue;
          assert.ok(!out.includes(bare), `round ${round}: ${JSON.stringify(text)} -> ${out}`);
        }
        if (!values.some((v) => text.includes(v))) assert.equal(out, text, `round ${round}`);
      }
    });
  });

  test("as a Transform stream", async () => {
    const chunks = [`a ${EMAIL.slice(0, 5)}`, `${EMAIL.slice(5)}\nb`, "\n"];
    const out = await readText(
      Readable.from(chunks.map((c) => Buffer.from(c))).pipe(textMaskingStream(engine)),
    );
    assert.equal(out, "a j*******@example.com\nb\n");
  });

  test("refuses an overlap larger than half a line", () => {
    assert.throws(() => new TextMasker(engine, { maxLineBytes: 100, overlapBytes: 60 }));
  });
});
