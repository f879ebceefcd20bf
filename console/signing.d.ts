// Types of signing.js for the TypeScript tests that check it against the server's verifiers.
export interface HashFunctions {
  sha256(data: string | Uint8Array): Promise<Uint8Array>;
  hmac(key: string | Uint8Array, message: string | Uint8Array): Promise<Uint8Array>;
}
export function toHex(bytes: Uint8Array | ArrayBuffer): string;
export function sha256Fallback(input: string | Uint8Array): Uint8Array;
export function hmacFallback(key: string | Uint8Array, message: string | Uint8Array): Uint8Array;
export function cryptoFor(useWebCrypto?: boolean): HashFunctions;
export function bearerToken(accessKey: string, secretKey: string, nowMs: number, c?: HashFunctions): Promise<string>;
export function uriEncode(s: string): string;
export function presignedPath(
  request: {
    accessKey: string;
    secretKey: string;
    host: string;
    path: string;
    params: Record<string, string>;
    nowMs: number;
    expiresSeconds?: number;
    region?: string;
  },
  c?: HashFunctions,
): Promise<string>;
