import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeFrame, ProtocolError } from "./channel-protocol.ts";
import {
  decodePortForwardClientFrame,
  encodePortPrefix,
  negotiatePortForward,
  PortForwardServerReader,
  parsePortForwardPorts,
  portChannels,
  spdyTunnelProtocol,
} from "./portforward-protocol.ts";

describe("negotiatePortForward", () => {
  test("the SPDY tunnel wins wherever it is offered, as in the apiserver", () => {
    assert.equal(
      negotiatePortForward(["v4.channel.k8s.io", spdyTunnelProtocol]),
      spdyTunnelProtocol,
    );
  });

  test("otherwise the first channel protocol offered", () => {
    const offered = ["portforward.k8s.io", "v4.base64.channel.k8s.io", "v4.channel.k8s.io"];
    assert.equal(negotiatePortForward(offered), "v4.base64.channel.k8s.io");
    assert.equal(negotiatePortForward(["v5.channel.k8s.io"]), undefined);
  });
});

describe("parsePortForwardPorts", () => {
  test("reads repeated and comma-separated ports in order", () => {
    assert.deepEqual(parsePortForwardPorts(["8080,9090", "53"]), [8080, 9090, 53]);
  });

  for (const values of [[], [""], ["0"], ["65536"], ["80,"], ["http"], ["+80"]]) {
    test(`refuses ${JSON.stringify(values)}`, () => {
      assert.throws(() => parsePortForwardPorts(values), ProtocolError);
    });
  }
});

describe("PortForwardServerReader", () => {
  const protocol = "v4.channel.k8s.io";

  test("strips the port prefix from each channel's first frame only", () => {
    const reader = new PortForwardServerReader(protocol, [8080, 9090]);
    const { data, error } = portChannels(1);
    assert.deepEqual([data, error], [2, 3]);
    const opening = reader.read(
      encodeFrame(protocol, data, encodePortPrefix(9090)) as Buffer,
      true,
    );
    assert.deepEqual(opening, {
      port: 9090,
      kind: "data",
      channel: 2,
      payload: Buffer.alloc(0),
      opening: true,
    });
    // A later frame that happens to start with the port's bytes is data.
    const later = Buffer.concat([encodePortPrefix(9090), Buffer.from("x")]);
    const frame = reader.read(encodeFrame(protocol, data, later) as Buffer, true);
    assert.deepEqual(frame?.payload, later);
    assert.equal(frame?.opening, false);
  });

  test("reads the error channel's text after its prefix", () => {
    const reader = new PortForwardServerReader("v4.base64.channel.k8s.io", [8080]);
    const payload = Buffer.concat([
      encodePortPrefix(8080),
      Buffer.from("error forwarding port 8080"),
    ]);
    const frame = reader.read(encodeFrame("v4.base64.channel.k8s.io", 1, payload), false);
    assert.equal(frame?.kind, "error");
    assert.equal(frame?.payload.toString(), "error forwarding port 8080");
  });

  test("refuses a prefix for another port, a short first frame and an unknown channel", () => {
    const reader = new PortForwardServerReader(protocol, [8080]);
    assert.throws(
      () => reader.read(Buffer.from([0, ...encodePortPrefix(80)]), true),
      ProtocolError,
    );
    assert.throws(() => reader.read(Buffer.of(1, 0x90), true), ProtocolError);
    assert.throws(
      () => reader.read(Buffer.from([2, ...encodePortPrefix(8080)]), true),
      ProtocolError,
    );
  });
});

describe("decodePortForwardClientFrame", () => {
  test("client data has no prefix", () => {
    const frame = decodePortForwardClientFrame(
      "v4.channel.k8s.io",
      [8080],
      Buffer.from("\x00ping"),
      true,
    );
    assert.deepEqual(frame?.payload, Buffer.from("ping"));
    assert.equal(frame?.port, 8080);
  });

  test("a client cannot write an error channel", () => {
    assert.throws(
      () => decodePortForwardClientFrame("v4.channel.k8s.io", [8080], Buffer.of(1, 0x41), true),
      ProtocolError,
    );
  });
});
