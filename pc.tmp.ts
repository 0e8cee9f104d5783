import { policyCommand } from "/work/main/src/cli/policy.ts";
await policyCommand().parseAsync(process.argv.slice(2), { from: "user" });
