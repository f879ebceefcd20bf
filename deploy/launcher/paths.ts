// The launcher, the harness and the coordinator (which serves the web console from the tree) share one walk.
export { repoRoot } from "../../services/common/repo-root";
