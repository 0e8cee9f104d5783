import assert from "node:assert/strict";
import { test } from "node:test";
import {
  admissionOperation,
  CelCompileError,
  CelRuntimeError,
  compileCondition,
  lazyVariables,
} from "./cel.ts";
import { input } from "./testing.ts";

function run(source: string, method: string, path: string, object?: unknown): boolean {
  const program = compileCondition(source);
  return program.run(lazyVariables(input(method, path, { object }))(program.uses));
}

test("a syntax error, an unknown variable or a non-boolean fails to compile", () => {
  assert.throws(() => compileCondition("object.spec.replicas =="), CelCompileError);
  assert.throws(() => compileCondition("params.max > 1"), /Unknown variable: params/);
  assert.throws(() => compileCondition("1 + 2"), /of type int, not bool/);
});

test("the variables have ValidatingAdmissionPolicy's names and shapes", () => {
  const path = "/apis/apps/v1/namespaces/shop/deployments/web/scale?dryRun=All";
  assert.ok(
    run(
      `request.operation == "UPDATE" && request.name == "web" && request.namespace == "shop" &&
       request.resource == {"group": "apps", "version": "v1", "resource": "deployments"} &&
       request.subResource == "scale" && request.dryRun &&
       request.userInfo.username == "portcullis:agent:bot" && request.userInfo.groups == [] &&
       identity.kind == "agent" && identity.subject == "bot" && oldObject == null &&
       namespaceObject == null && request.verb == "patch"`,
      "PATCH",
      path,
    ),
  );
});

test("admission operations follow the apiserver: patch is UPDATE, exec is CONNECT, reads have none", () => {
  assert.equal(admissionOperation("create", ""), "CREATE");
  assert.equal(admissionOperation("patch", "status"), "UPDATE");
  assert.equal(admissionOperation("deletecollection", ""), "DELETE");
  assert.equal(admissionOperation("create", "exec"), "CONNECT");
  assert.equal(admissionOperation("get", "portforward"), "CONNECT");
  assert.equal(admissionOperation("list", ""), "");
});

test("whole JSON numbers are CEL ints, so arithmetic and comparisons work", () => {
  const object = { spec: { replicas: 3, ratio: 0.5 } };
  assert.ok(
    run(
      "object.spec.replicas + 1 == 4 && object.spec.ratio < 1.0",
      "POST",
      "/api/v1/namespaces/a/pods",
      object,
    ),
  );
});

test("macros, has() and optional chaining are available", () => {
  const object = {
    spec: { containers: [{ name: "a", ports: [{ containerPort: 80 }] }, { name: "b" }] },
  };
  assert.ok(
    run(
      `object.spec.containers.exists(c, c.name == "a") &&
       object.spec.containers.all(c, c.name.size() == 1) &&
       object.spec.containers.exists_one(c, has(c.ports)) &&
       object.spec.containers.filter(c, has(c.ports)).map(c, c.name) == ["a"] &&
       object.?metadata.?labels.orValue({}).size() == 0 &&
       cel.bind(cs, object.spec.containers, size(cs) == 2)`,
      "POST",
      "/api/v1/namespaces/a/pods",
      object,
    ),
  );
});

test("a missing field at run time is an error, not false", () => {
  assert.throws(
    () =>
      run("object.spec.replicas == 0", "PATCH", "/apis/apps/v1/namespaces/a/deployments/x", {
        spec: {},
      }),
    (err: unknown) => err instanceof CelRuntimeError && /No such key: replicas/.test(err.message),
  );
});

test("a condition reports whether it reads object or oldObject", () => {
  assert.deepEqual(compileCondition("request.name == 'x'").uses, {
    object: false,
    oldObject: false,
  });
  assert.deepEqual(compileCondition("oldObject.spec.x == object.spec.x").uses, {
    object: true,
    oldObject: true,
  });
});
