/**
 * A real terminal for end-to-end tests: one command in a detached tmux pane
 * of a fixed size, on a tmux server of its own (its socket in a temporary
 * directory, removed on close), so tests running at the same time never
 * share one. Keys go in with `send-keys`; what the terminal shows comes back
 * with `capture-pane`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const TMUX = "/usr/bin/tmux";
const POLL_MS = 100;
const execFileAsync = promisify(execFile);

export interface TerminalSize {
  cols: number;
  rows: number;
}

export class TmuxTerminal {
  readonly socket: string;
  readonly size: TerminalSize;
  readonly #configDir: string;

  private constructor(socket: string, size: TerminalSize, configDir: string) {
    this.socket = socket;
    this.size = size;
    this.#configDir = configDir;
  }

  /** Starts `command` (run directly, not through a shell) in a new pane of `size`. */
  static async start(command: string[], size: TerminalSize): Promise<TmuxTerminal> {
    const configDir = await mkdtemp(join(tmpdir(), "portcullis-tmux-"));
    // Set before the command starts, so its exit status is kept however soon it exits.
    const config = join(configDir, "tmux.conf");
    await writeFile(config, "set -g remain-on-exit on\nset -g status off\n");
    const socket = join(configDir, "tmux.sock");
    const terminal = new TmuxTerminal(socket, size, configDir);
    // The command runs under sh, which writes its exit status to a file:
    // tmux's own #{pane_dead_status} is sometimes left empty.
    const run = ["/bin/sh", "-c", `"$@"; echo $? > '${join(configDir, "status")}'`, "sh"];
    await terminal.#tmux(
      ["-f", config, "new-session", "-d", "-s", "main"],
      ["-x", String(size.cols), "-y", String(size.rows), "--", ...run, ...command],
    );
    return terminal;
  }

  /**
   * What the pane shows now and what scrolled off it, one line per row,
   * trailing blanks trimmed. The history matters: when the command exits,
   * tmux writes "Pane is dead" on a new last line, scrolling the top line off.
   */
  async screen(): Promise<string> {
    return this.#tmux(["capture-pane", "-p", "-S", "-", "-t", "main"]);
  }

  /** Types `text` literally (no key names), without Enter. */
  async type(text: string): Promise<void> {
    await this.#tmux(["send-keys", "-t", "main", "-l", text]);
  }

  /** Types `text` one key at a time, `pauseMs` apart, as a person would. */
  async typeKeys(text: string, pauseMs: number): Promise<void> {
    for (const key of text) {
      await this.type(key);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** Types `text`, then Enter. */
  async typeLine(text: string): Promise<void> {
    await this.type(text);
    await this.#tmux(["send-keys", "-t", "main", "Enter"]);
  }

  /** Polls the screen until `ready` holds for it; throws with the screen after `timeoutMs`. */
  async waitForScreen(
    ready: (screen: string) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (ready(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; the terminal shows:\n${screen}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** The command's exit status once it has exited; throws with the screen after `timeoutMs`. */
  async exitStatus(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const written = await readFile(join(this.#configDir, "status"), "utf8").catch(() => "");
      if (written.endsWith("\n")) return Number(written.trim());
      if (Date.now() > deadline) {
        throw new Error(`the command did not exit; the terminal shows:\n${await this.screen()}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Ends the tmux server (and the command, if still running). */
  async close(): Promise<void> {
    await this.#tmux(["kill-server"]).catch(() => undefined); // already gone: fine
    await rm(this.#configDir, { recursive: true, force: true });
  }

  async #tmux(...args: string[][]): Promise<string> {
    // execFile, not a helper that writes stdin: tmux may exit before reading it (EPIPE).
    const run = await execFileAsync(TMUX, ["-S", this.socket, ...args.flat()], {
      timeout: 10_000,
    });
    return run.stdout;
  }
}
