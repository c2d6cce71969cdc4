/**
 * Configuration: the `appliance.yaml` schema (every key once, with default, unit and meaning) and
 * its loader, which turns YAML plus command-line overrides into a validated, frozen object.
 *
 * @module
 */
export { type Appliance, type ApplianceInput, ApplianceSchema } from "./schema.ts";
export {
  ConfigError,
  type ConfigOverride,
  type ConfigProblem,
  formatPath,
  formatProblem,
  loadConfig,
  parseYaml,
  validateConfig,
} from "./load.ts";
export { METHODS, SCHEDULERS } from "./director_schema.ts";
export { POLICIES } from "./cache_schema.ts";
