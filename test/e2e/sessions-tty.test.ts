/**
 * `kubectl exec -it` through the gateway, driven by a real terminal (tmux):
 * the shell kwok runs gets a pty of its own, what the user types reaches it
 * and its output comes back to the screen, masked; the session's recording
 * holds the keystrokes, the output and the terminal's size; and
 * `portcullis sessions play` shows again what the terminal showed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CompletionRecord } from "../../src/audit/record.ts";
import { type Kwok, startKwok } from "../../src/cluster/kwok.ts";
import { type ControlPlane, startControlPlane } from "../../src/cluster/launcher.ts";
import { type ParsedAsciicast, parseAsciicast } from "../../src/sessions/recording/parse.ts";
import {
  bindRole,
  completionsWhen,
  startTestGateway,
  type TestGateway,
} from "../support/gateway.ts";
import { runningPod } from "../support/kwok.ts";
import { writePolicyFile } from "../support/policy.ts";
import { runProcess } from "../support/process.ts";
import { TmuxTerminal } from "../support/tmux.ts";

const cli = resolve(import.meta.dirname, "../../bin/portcullis");
const { PORTCULLIS_CONFIG: _config, ...env } = process.env;

const CARD = "4111 1111 1111 1111";
const MASKED_CARD = "**** **** **** 1111";
const PROMPT = "tty-shell$ ";
const SIZE = { cols: 100, rows: 30 };
/** Typed as `$((6*7))`, so the output line differs from the echoed command line. */
const MARKER = `typed-42-${randomBytes(4).toString("hex")}`;
const TYPED = `echo ${MARKER.replace("42", "$((6*7))")}`;
/** Prints the pty's size once kwok has set it (it starts at 0 0), then its name. */
const STTY_PROBE =
  'i=0; while [ "$(stty size)" = "0 0" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; stty size; tty';

let cluster: ControlPlane;
let kwok: Kwok;
let gw: TestGateway;
let ns: string;
let workDir: string;
let kubeconfig: string;
let terminal: TmuxTerminal | undefined;

before(async () => {
  cluster = await startControlPlane({ controllerManager: false });
  ns = await cluster.createNamespace("sessions-tty");
  workDir = await mkdtemp(join(tmpdir(), "portcullis-sessions-tty-"));
  kwok = await startKwok(cluster, { exec: [{ namespaces: [ns], workDir, env: { PS1: PROMPT } }] });
  await runningPod(cluster, kwok, ns, "shell");
  const policyFile = join(workDir, "policy.yaml");
  await writePolicyFile(policyFile, "team", [
    "  defaultAction: allow",
    "  agents:",
    "    - name: operator",
    "      allow:",
    "        - { verbs: [get, create], resources: [pods, pods/exec] }",
  ]);
  gw = await startTestGateway(cluster, { policy: { files: [policyFile] } });
  const agent = await gw.agent("operator");
  kubeconfig = agent.kubeconfig;
  await bindRole(cluster, agent.username, "cluster-admin");
});

after(async () => {
  await terminal?.close();
  await gw?.close();
  await kwok?.stop();
  await cluster?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The completion record whose recording holds `text`, once it is written (after the stream closed). */
async function completionRecording(text: string): Promise<CompletionRecord | undefined> {
  const holds = (r: CompletionRecord) => r.recording?.text?.includes(text) === true;
  return (await completionsWhen(gw, (all) => all.some(holds))).find(holds);
}

/** The data of a recording's events with `code`, concatenated. */
function streamOf(recording: ParsedAsciicast, code: "i" | "o" | "r"): string {
  return recording.events
    .filter((e) => e.code === code)
    .map((e) => String(e.data))
    .join("");
}

describe("kubectl exec -it in a real terminal, through the gateway", () => {
  /** What the terminal showed, and the session's completion record. */
  let screen = "";
  let exitStatus: number | undefined;
  let completion: CompletionRecord | undefined;
  let recording: ParsedAsciicast | undefined;

  before(async () => {
    terminal = await TmuxTerminal.start(kubectlExec(["sh"]), SIZE);
    // capture-pane trims the prompt's trailing space.
    await terminal.waitForScreen((s) => s.includes(PROMPT.trimEnd()), "the shell's prompt");
    await terminal.typeLine(TYPED);
    await terminal.waitForScreen((s) => lines(s).includes(MARKER), `the line ${MARKER}`);
    await terminal.typeLine(`echo ${CARD}`);
    await terminal.waitForScreen(
      (s) => lines(s).includes(MASKED_CARD) || lines(s).includes(CARD),
      "the echoed card number",
    );
    await terminal.typeLine("exit");
    exitStatus = await terminal.exitStatus();
    screen = await terminal.screen();
    completion = await completionRecording(MARKER);
    if (completion?.recording?.text) recording = parseAsciicast(completion.recording.text);
  });

  test("the typed command runs in the shell and its output shows in the terminal", () => {
    assert.equal(exitStatus, 0, `exit status ${exitStatus}:\n${screen}`);
    assert.ok(screen.includes(`${PROMPT}${TYPED}`), `the typed line is echoed:\n${screen}`);
    assert.ok(lines(screen).includes(MARKER), `the output line:\n${screen}`);
  });

  test("the shell's stdin is a terminal of the client's size", async () => {
    // A session of its own. kwok sizes its pty when the resize arrives,
    // which may be just after the command starts.
    const probe = await TmuxTerminal.start(kubectlExec(["sh", "-c", STTY_PROBE]), SIZE);
    try {
      const shown = await probe.waitForScreen((s) => /^\/dev\/pts\/\d+$/m.test(s), "`tty`");
      assert.ok(lines(shown).includes(`${SIZE.rows} ${SIZE.cols}`), shown);
      assert.equal(await probe.exitStatus(), 0, await probe.screen());
    } finally {
      await probe.close();
    }
  });

  test("the recording holds the keystrokes as i, the output as o, at the pane's size", () => {
    assert.ok(completion?.recording, "a completion record with the session's recording");
    assert.ok(recording);
    assert.equal(recording.sha256, completion.recording.sha256);
    const text = completion.recording.text ?? "";
    assert.ok(streamOf(recording, "i").includes(`${TYPED}\r`), text);
    assert.ok(streamOf(recording, "o").includes(`${MARKER}\r\n`), text);
    assert.ok(streamOf(recording, "o").includes(PROMPT), text);
    // kubectl sends the terminal's size first: it is the recording's own size.
    assert.deepEqual([recording.header.width, recording.header.height], [SIZE.cols, SIZE.rows]);
  });

  test("sessions play shows what the terminal showed", async () => {
    assert.ok(completion);
    const played = await runProcess(
      cli,
      ["sessions", "play", completion.requestId, "--speed", "1000", "--data-dir", gw.dataDir],
      { env },
    );
    assert.equal(played.code, 0, played.stderr);
    const shown = lines(played.stdout.replaceAll("\r", ""));
    assert.ok(shown.includes(MARKER), played.stdout);
    assert.ok(shown.includes(`${PROMPT}${TYPED}`), played.stdout);
    assert.ok(shown.includes(MASKED_CARD), played.stdout);
    assert.ok(!played.stdout.includes(CARD), played.stdout);
  });

  test("a card number typed into the shell shows masked in the terminal", () => {
    assert.ok(lines(screen).includes(MASKED_CARD), `the card number, masked:\n${screen}`);
    assert.ok(!screen.includes(CARD), `the card number in clear:\n${screen}`);
  });

  test("the recording never holds the typed card number in clear", () => {
    const text = completion?.recording?.text ?? "";
    assert.ok(recording, text);
    assert.ok(streamOf(recording, "o").includes(MASKED_CARD), text);
    assert.ok(!text.includes(CARD), `the card number in clear in the recording:\n${text}`);
  });

  test("a card number typed key by key shows masked in the terminal and the recording", async () => {
    const slow = await TmuxTerminal.start(kubectlExec(["sh"]), SIZE);
    try {
      await slow.waitForScreen((s) => s.includes(PROMPT.trimEnd()), "the shell's prompt");
      // As a person types: each key's echo is its own frame.
      await slow.typeKeys(`echo ${CARD} slowly`, 60);
      await slow.typeLine("");
      const shown = await slow.waitForScreen(
        (s) => /^\S+ \S+ \S+ 1111 slowly$/m.test(s),
        "the echoed card number",
      );
      await slow.typeLine("exit");
      assert.equal(await slow.exitStatus(), 0, await slow.screen());
      const typed = await completionRecording(" slowly");
      assert.ok(!shown.includes(CARD), `the card number in clear on screen:\n${shown}`);
      assert.ok(!typed?.recording?.text?.includes(CARD), typed?.recording?.text);
    } finally {
      await slow.close();
    }
  });
});

/** `kubectl exec -it` of `command` in the pod, as the agent, through the gateway. */
function kubectlExec(command: string[]): string[] {
  const exec = ["exec", "-it", "-n", ns, "shell", "--", ...command];
  return [cluster.binaries.kubectl, "--kubeconfig", kubeconfig, ...exec];
}

/** A screen's or an output's lines, trailing blanks trimmed. */
function lines(text: string): string[] {
  return text.split("\n").map((line) => line.trimEnd());
}
