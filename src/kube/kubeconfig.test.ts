import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { readKubeconfig, renderKubeconfig } from "./kubeconfig.ts";

const caPem = "-----BEGIN CERTIFICATE-----\nQ0EgY2VydA==\n-----END CERTIFICATE-----\n";
const certPem = "-----BEGIN CERTIFICATE-----\nY2xpZW50\n-----END CERTIFICATE-----\n";
const keyPem = "-----BEGIN PRIVATE KEY-----\na2V5\n-----END PRIVATE KEY-----\n";
const b64 = (text: string) => Buffer.from(text).toString("base64");

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-kubeconfig-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface KubeconfigShape {
  "current-context"?: string;
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
  users: Array<{ name: string; user: Record<string, unknown> }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
}

/** A kubeconfig with one cluster `c`, one user `u` and a current context `ctx`. */
function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
): KubeconfigShape {
  return {
    "current-context": "ctx",
    clusters: [{ name: "c", cluster: { server: "https://api.example:6443", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
  };
}

let counter = 0;
async function write(config: unknown, subdir = ""): Promise<string> {
  const folder = join(dir, subdir);
  await mkdir(folder, { recursive: true });
  counter += 1;
  const path = join(folder, `config-${counter}.yaml`);
  await writeFile(path, typeof config === "string" ? config : stringify(config));
  return path;
}

describe("readKubeconfig", () => {
  test("reads a token user and inline certificate-authority-data", async () => {
    const path = await write(
      kubeconfig({ "certificate-authority-data": b64(caPem) }, { token: "gw-token" }),
    );
    assert.deepEqual(readKubeconfig(path), {
      server: "https://api.example:6443",
      caPem,
      token: "gw-token",
    });
  });

  test("drops trailing slashes from the server URL", async () => {
    const config = kubeconfig({}, { token: "t" });
    (config.clusters[0] as { cluster: Record<string, unknown> }).cluster.server =
      "https://api.example:6443//";
    assert.equal(readKubeconfig(await write(config)).server, "https://api.example:6443");
  });

  test("resolves a relative tokenFile against the kubeconfig's directory", async () => {
    const path = await write(kubeconfig({}, { tokenFile: "secrets/token" }), "tokenfile");
    assert.equal(readKubeconfig(path).tokenFile, join(dir, "tokenfile", "secrets/token"));
  });

  test("keeps an absolute tokenFile as given", async () => {
    const path = await write(kubeconfig({}, { tokenFile: "/var/run/token" }));
    assert.equal(readKubeconfig(path).tokenFile, "/var/run/token");
  });

  test("reads client certificate and key from inline data", async () => {
    const path = await write(
      kubeconfig({}, { "client-certificate-data": b64(certPem), "client-key-data": b64(keyPem) }),
    );
    const target = readKubeconfig(path);
    assert.equal(target.clientCertPem, certPem);
    assert.equal(target.clientKeyPem, keyPem);
    assert.equal(target.token, undefined);
  });

  test("reads CA, client certificate and key from files relative to the kubeconfig", async () => {
    const sub = join(dir, "files");
    await mkdir(join(sub, "pki"), { recursive: true });
    await writeFile(join(sub, "pki", "ca.crt"), caPem);
    await writeFile(join(sub, "pki", "client.crt"), certPem);
    await writeFile(join(sub, "pki", "client.key"), keyPem);
    const path = await write(
      kubeconfig(
        { "certificate-authority": "pki/ca.crt" },
        { "client-certificate": "pki/client.crt", "client-key": "./pki/client.key" },
      ),
      "files",
    );
    // Read from another working directory: the paths must not depend on it.
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      assert.deepEqual(readKubeconfig(path), {
        server: "https://api.example:6443",
        caPem,
        clientCertPem: certPem,
        clientKeyPem: keyPem,
      });
    } finally {
      process.chdir(cwd);
    }
  });

  test("reads absolute certificate paths as given", async () => {
    const absolute = join(dir, "absolute-ca.crt");
    await writeFile(absolute, caPem);
    const path = await write(kubeconfig({ "certificate-authority": absolute }, { token: "t" }));
    assert.equal(readKubeconfig(path).caPem, caPem);
  });

  test("uses current-context unless a context is named, and then the named one", async () => {
    const config: KubeconfigShape = {
      "current-context": "first",
      clusters: [
        { name: "one", cluster: { server: "https://one.example" } },
        { name: "two", cluster: { server: "https://two.example" } },
      ],
      users: [
        { name: "a", user: { token: "token-a" } },
        { name: "b", user: { token: "token-b" } },
      ],
      contexts: [
        { name: "first", context: { cluster: "one", user: "a" } },
        { name: "second", context: { cluster: "two", user: "b" } },
      ],
    };
    const path = await write(config);
    assert.deepEqual(readKubeconfig(path), { server: "https://one.example", token: "token-a" });
    assert.deepEqual(readKubeconfig(path, "second"), {
      server: "https://two.example",
      token: "token-b",
    });
  });

  test("refuses a kubeconfig without current-context when no context is named", async () => {
    const config = kubeconfig({}, { token: "t" });
    delete config["current-context"];
    const path = await write(config);
    assert.throws(() => readKubeconfig(path), /no context given and no current-context set/);
  });

  test("names a missing context", async () => {
    const path = await write(kubeconfig({}, { token: "t" }));
    assert.throws(() => readKubeconfig(path, "nope"), /context "nope" not found/);
  });

  test("names a missing cluster", async () => {
    const config = kubeconfig({}, { token: "t" });
    config.contexts[0] = { name: "ctx", context: { cluster: "gone", user: "u" } };
    const path = await write(config);
    assert.throws(() => readKubeconfig(path), /cluster "gone" not found/);
  });

  test("names a missing user", async () => {
    const config = kubeconfig({}, { token: "t" });
    config.contexts[0] = { name: "ctx", context: { cluster: "c", user: "ghost" } };
    const path = await write(config);
    assert.throws(() => readKubeconfig(path), /user "ghost" not found/);
  });

  test("error messages name the file", async () => {
    const path = await write(kubeconfig({}, { token: "t" }));
    assert.throws(
      () => readKubeconfig(path, "nope"),
      (err: Error) => err.message.startsWith(`${path}:`),
    );
  });

  test("refuses a file that is not a kubeconfig", async () => {
    const path = await write("just: a map\n");
    assert.throws(() => readKubeconfig(path), /not a kubeconfig/);
  });

  test("refuses insecure-skip-tls-verify and says to give a certificate-authority", async () => {
    const path = await write(kubeconfig({ "insecure-skip-tls-verify": true }, { token: "t" }));
    assert.throws(
      () => readKubeconfig(path),
      /cluster "c" sets insecure-skip-tls-verify.*give certificate-authority instead/,
    );
  });

  test("refuses an exec credential plugin", async () => {
    const path = await write(
      kubeconfig(
        {},
        { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "aws", args: [] } },
      ),
    );
    assert.throws(() => readKubeconfig(path), /user "u" uses an exec or auth-provider plugin/);
  });

  test("refuses an auth-provider plugin", async () => {
    const path = await write(kubeconfig({}, { "auth-provider": { name: "gcp" } }));
    assert.throws(() => readKubeconfig(path), /exec or auth-provider plugin/);
  });
});

describe("renderKubeconfig", () => {
  const options = {
    name: "builder",
    server: "https://portcullis.example:8443",
    caPem,
    token: "pcat_secret",
  };

  test("renders a kubeconfig that reads back to the same server, CA and token", async () => {
    const path = await write(renderKubeconfig(options));
    assert.deepEqual(readKubeconfig(path), {
      server: options.server,
      caPem,
      token: options.token,
    });
  });

  test("round-trips with a namespace and names its context after the user", async () => {
    const path = await write(renderKubeconfig({ ...options, namespace: "team-a" }));
    assert.deepEqual(readKubeconfig(path, "portcullis-builder"), {
      server: options.server,
      caPem,
      token: options.token,
    });
  });

  test("never contains insecure-skip-tls-verify", () => {
    for (const namespace of [undefined, "team-a"]) {
      const text = renderKubeconfig({ ...options, ...(namespace ? { namespace } : {}) });
      assert.doesNotMatch(text, /insecure-skip-tls-verify/);
      assert.match(text, /certificate-authority-data: /);
    }
  });
});
