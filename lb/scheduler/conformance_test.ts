import { schedulerConformance } from "../../tests/conformance/scheduler_suite.ts";
import { createScheduler, SCHEDULER_NAMES } from "./mod.ts";

for (const name of SCHEDULER_NAMES) schedulerConformance(name, () => createScheduler(name));
