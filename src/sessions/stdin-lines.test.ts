import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StdinLineTracker } from "./stdin-lines.ts";

const texts = (t: StdinLineTracker, input: string | Buffer) => t.push(input).map((l) => l.text);

describe("StdinLineTracker", () => {
  test("plain lines end on CR, LF or CRLF (one line, not two)", () => {
    const t = new StdinLineTracker();
    assert.deepEqual(texts(t, "ls -l\rcat /etc/hosts\nid\r\n"), ["ls -l", "cat /etc/hosts", "id"]);
    assert.deepEqual(texts(t, "\r\n"), [""]);
  });

  test("a line typed across many chunks is one line", () => {
    const t = new StdinLineTracker();
    const lines = [..."rm -rf /data"].flatMap((ch) => t.push(ch));
    assert.deepEqual(lines, []);
    assert.deepEqual(texts(t, "\r"), ["rm -rf /data"]);
  });

  test("backspace, delete, Ctrl-U and Ctrl-W edit the line as a terminal does", () => {
    const t = new StdinLineTracker();
    assert.deepEqual(texts(t, "echo hix\x7f\r"), ["echo hi"]);
    assert.deepEqual(texts(t, "rm -rf /\x15ls\r"), ["ls"]);
    assert.deepEqual(texts(t, "rm -rf /tmp/x \x17\x17ls\r"), ["rm ls"]);
    assert.deepEqual(texts(t, "abc\x08\x08d\r"), ["ad"]);
  });

  test("Ctrl-C discards the line being typed", () => {
    const t = new StdinLineTracker();
    assert.deepEqual(texts(t, "rm -rf /\x03ls\r"), ["ls"]);
  });

  test("cursor keys, history recall and Tab make a line uncertain, and escape bytes are not text", () => {
    const t = new StdinLineTracker();
    const [recalled] = t.push("\x1b[A\r");
    assert.deepEqual(recalled, { text: "", uncertain: true, truncated: false });
    const [moved] = t.push("rm -rf x\x1b[D\x1b[Dy\r");
    assert.equal(moved?.text, "rm -rf xy");
    assert.equal(moved?.uncertain, true);
    const [completed] = t.push("cat /etc/pas\t\r");
    assert.equal(completed?.uncertain, true);
    const [clean] = t.push("whoami\r");
    assert.equal(clean?.uncertain, false, "each line starts certain again");
  });

  test("UTF-8 split across chunks is decoded whole", () => {
    const t = new StdinLineTracker();
    const bytes = Buffer.from("echo ünïcødé\r");
    const lines = [];
    for (let i = 0; i < bytes.length; i++) lines.push(...t.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(
      lines.map((l) => l.text),
      ["echo ünïcødé"],
    );
  });

  test("an overlong line is bounded and flagged", () => {
    const t = new StdinLineTracker({ maxLineChars: 10 });
    const [line] = t.push(`${"a".repeat(50)}\r`);
    assert.equal(line?.text, "a".repeat(10));
    assert.equal(line?.truncated, true);
  });

  test("pending shows the unfinished line at the end of a session", () => {
    const t = new StdinLineTracker();
    t.push("shutdown -h no");
    assert.equal(t.pending()?.text, "shutdown -h no");
    t.push("w\r");
    assert.equal(t.pending(), undefined);
  });
});
