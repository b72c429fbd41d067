/**
 * Directories only this user may use (the shared-memory root, the default
 * run directory of the ipc endpoints): made with mode 0700 when missing, and
 * refused when they exist but another user owns them, others may enter
 * them, or they are links, since a squatter could redirect what we put there.
 */
import { lstatSync, mkdirSync } from 'node:fs';

import { ErrorCode, MmsbError } from '@mmsb/bus';

export function ownDirectory(path: string): string {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new MmsbError(ErrorCode.IO_ERROR, `cannot make the directory ${path}: ${(error as Error).message}`);
  }
  const stat = lstatSync(path);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new MmsbError(
      ErrorCode.IO_ERROR,
      `${path} is not a private directory of this user (owner, mode 0700, not a link); remove it or choose another place`,
    );
  }
  return path;
}
