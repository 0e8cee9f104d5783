import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Readable } from "node:stream";
import { text as readText } from "node:stream/consumers";
import { describe, test } from "node:test";
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
