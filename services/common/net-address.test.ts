import { dialableHost, hostPort } from "./net-address";

describe("net addresses", () => {
  it("dials the loopback of the same family for a wildcard listen address", () => {
    expect(dialableHost("0.0.0.0")).toBe("127.0.0.1");
    expect(dialableHost("")).toBe("127.0.0.1");
    expect(dialableHost("::")).toBe("::1");
    expect(dialableHost("[::]")).toBe("::1");
  });

  it("dials any other host as it is", () => {
    expect(dialableHost("127.0.0.1")).toBe("127.0.0.1");
    expect(dialableHost("storage-1")).toBe("storage-1");
    expect(dialableHost("fd00::5")).toBe("fd00::5");
  });

  it("brackets IPv6 literals in host:port and nothing else", () => {
    expect(hostPort("127.0.0.1", 50100)).toBe("127.0.0.1:50100");
    expect(hostPort("storage-1", 50100)).toBe("storage-1:50100");
    expect(hostPort("::1", 8080)).toBe("[::1]:8080");
    expect(hostPort(dialableHost("::"), 50051)).toBe("[::1]:50051");
  });
});
