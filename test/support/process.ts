export { type ProcessRun, runProcess } from "../../src/cluster/processes.ts";
