/**
 * Two small fixes to kwok's exec, applied to a copy of its module source
 * before building (./kwok-build.ts), so that `kubectl exec` against a fake
 * node behaves as it does against a kubelet. Each must match exactly once:
 * a kwok upgrade that changes the code fails the build instead of silently
 * dropping a fix.
 */

export interface SourcePatch {
  /** Relative to the kwok module root. */
  file: string;
  why: string;
  find: string;
  replace: string;
}

export const kwokPatches: SourcePatch[] = [
  {
    file: "pkg/utils/exec/exec.go",
    why:
      "kwok copies the exec stream's stdin into the command but never closes the pipe, " +
      "so `kubectl exec -i pod -- cat` never sees end of input and hangs",
    find: "\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n",
    replace: "\t\t\t\t_, _ = io.Copy(inPipe, opt.In)\n\t\t\t\t_ = inPipe.Close()\n",
  },
  {
    file: "pkg/kwok/server/debugging_exec.go",
    why:
      "a command's non-zero exit reaches the stream wrapped, so the apiserver reports an " +
      "internal error instead of `command terminated with exit code N`",
    find: [
      "\tif tty {",
      "\t\treturn s.execInContainerWithTTY(ctx, cmd, in, stdout, resize)",
      "\t}",
      "",
      "\treturn s.execInContainer(ctx, cmd, in, stdout, stderr)",
      "",
    ].join("\n"),
    replace: [
      "\tif tty {",
      "\t\terr = s.execInContainerWithTTY(ctx, cmd, in, stdout, resize)",
      "\t} else {",
      "\t\terr = s.execInContainer(ctx, cmd, in, stdout, stderr)",
      "\t}",
      "\tvar exitErr *patchosexec.ExitError",
      "\tif patcherrors.As(err, &exitErr) {",
      "\t\treturn &patchutilexec.ExitErrorWrapper{ExitError: exitErr}",
      "\t}",
      "\treturn err",
      "",
    ].join("\n"),
  },
  {
    file: "pkg/kwok/server/debugging_exec.go",
    why: "the imports the exit-code fix uses (aliased, so they cannot clash)",
    find: '\t"k8s.io/cri-streaming/pkg/streaming/remotecommand"\n',
    replace: [
      '\t"k8s.io/cri-streaming/pkg/streaming/remotecommand"',
      '\tpatcherrors "errors"',
      '\tpatchosexec "os/exec"',
      '\tpatchutilexec "k8s.io/utils/exec"',
      "",
    ].join("\n"),
  },
];

/** Applies the patches for `file` to its `source`; throws when one does not match exactly once. */
export function applyPatches(file: string, source: string, patches: SourcePatch[]): string {
  let patched = source;
  for (const patch of patches.filter((p) => p.file === file)) {
    const parts = patched.split(patch.find);
    if (parts.length !== 2) {
      const count = parts.length - 1;
      throw new Error(`kwok patch for ${file} matches ${count} times, not once (${patch.why})`);
    }
    patched = parts.join(patch.replace);
  }
  return patched;
}
