/**
 * Simulation of the SWIM engine without sockets or wall time: a discrete-event
 * {@link FakeClock}, a lossy in-memory {@link SimNetwork}, and {@link SimCluster}, which runs
 * hundreds of engines and measures failure convergence and false deaths. Used by unit tests of
 * the protocol logic (`cluster/swim_test.ts`) and by `deno task bench:cluster`.
 *
 * @module
 */
export { FakeClock, seededRandom } from "./fake_clock.ts";
export { type SimEndpoint, SimNetwork, type SimNetworkOptions, type SimNetworkStats } from "./sim_network.ts";
export { SimCluster, type SimClusterOptions, type SimNode } from "./sim_cluster.ts";
