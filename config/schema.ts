/**
 * The one description of every `appliance.yaml` key: type, default, unit, range and meaning.
 * Each section lives in its own file (`*_schema.ts`); this file joins them.
 *
 * @module
 */
import { z } from "zod";
import { AdminSchema } from "./admin_schema.ts";
import { CacheSchema } from "./cache_schema.ts";
import { ClusterSchema } from "./cluster_schema.ts";
import { DirectorSchema } from "./director_schema.ts";
import { IcpSchema } from "./icp_schema.ts";
import { LogSchema } from "./log_schema.ts";

/** Schema of a whole `appliance.yaml`. */
export const ApplianceSchema = z.strictObject({
  cluster: ClusterSchema,
  admin: AdminSchema,
  log: LogSchema,
  director: DirectorSchema,
  cache: CacheSchema,
  icp: IcpSchema,
});

/** A validated appliance configuration, defaults filled in. */
export type Appliance = z.output<typeof ApplianceSchema>;
/** The configuration as written (defaults optional). */
export type ApplianceInput = z.input<typeof ApplianceSchema>;
