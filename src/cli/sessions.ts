import { Command } from "commander";

/** `portcullis sessions list|show` — filled in by the audit-query work. */
export function sessionsCommand(): Command {
  return new Command("sessions").description("list sessions and show one session's timeline");
}
