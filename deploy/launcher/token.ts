import { resolve } from "node:path";
import { mintBearerToken } from "../../services/auth/bearer-token";
import { SETTINGS } from "../../services/common/config";
import { keyPairFor } from "./client-credentials";

// `npm run token`: prints a bearer token for the gRPC API (metadata `authorization: Bearer <token>`)
// and the HTTP facade, good for 15 minutes. The key pair: MINIS3_ACCESS_KEY / MINIS3_SECRET_KEY,
// else the one npm start keeps in MINIS3_DATA_DIR (default ./data).

const pair = keyPairFor("", process.env);
if (!pair) {
  const dataDir = resolve(process.env.MINIS3_DATA_DIR || SETTINGS.dataDir.default);
  process.stderr.write(
    `minis3 token: no key pair: set MINIS3_ACCESS_KEY and MINIS3_SECRET_KEY, or run npm start once (it makes ${dataDir}/credentials.json)\n`,
  );
  process.exit(2);
}
process.stdout.write(`${mintBearerToken(pair.accessKey, pair.secretKey)}\n`);
