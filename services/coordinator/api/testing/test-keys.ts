import { KeyStore } from "../../../auth/keys";

// Two users for the front doors' credential tests: one allowed every bucket (an operator), one
// limited to buckets starting with "photos".
export const ADMIN = { accessKey: "AKADMINADMINADMIN001", secretKey: "admin-secret-0123456789abcdefghijklmnopq" };
export const PHOTOS = { accessKey: "AKPHOTOSPHOTOSPHO002", secretKey: "photos-secret-0123456789abcdefghijklmnop" };
export const TEST_KEYS = KeyStore.fromFileContent({
  users: [
    { name: "admin", keys: [ADMIN], buckets: "*" },
    { name: "photographer", keys: [PHOTOS], buckets: ["photos*"] },
  ],
});
