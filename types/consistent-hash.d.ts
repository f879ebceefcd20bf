// consistent-hash ships no types (and there is no @types package).
declare module "consistent-hash" {
  interface Options {
    range?: number;
    weight?: number;
    distribution?: "random" | "uniform";
    orderNodes?: (nodes: string[]) => string[];
  }
  class ConsistentHash {
    constructor(options?: Options);
    add(node: string, weight?: number, points?: number[]): this;
    remove(node: string): this;
    get(key: string): string | null;
    get(key: string, count: number): string[];
    getNodes(): string[];
    getPoints(node: string): number[];
  }
  export = ConsistentHash;
}
