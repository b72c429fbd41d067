/**
 * The bulk path: files in a private directory that client and server both
 * map or read. Layout: `<root>/mmsb-bridge-<uid>/<pid>-<random>/s<session>/`
 * (root: /dev/shm where it exists). Directories 0700, files 0600. A server
 * removes its own directory when it stops, and on start the directories of
 * servers whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writeSync,
  constants as fs,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ErrorCode, MmsbError } from '@mmsb/bus';

import { ownDirectory } from './private-directory.js';

/** Names a client may give its own files: no separators, not a read file's `h…`. */
const CLIENT_FILE = /^[A-Za-z0-9_.-]{1,128}$/;

function defaultRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The server's shared-memory directory. */
export class SharedMemory {
  readonly directory: string;
  /** Bytes moved through files, each way. */
  bytesRead = 0;
  bytesWritten = 0;

  private constructor(directory: string) {
    this.directory = directory;
  }

  /** Makes the server's directory after removing those of servers no longer running. */
  static create(root: string = defaultRoot()): SharedMemory {
    const base = join(root, `mmsb-bridge-${process.getuid?.() ?? 'user'}`);
    ownDirectory(base);
    for (const entry of readdirSync(base)) {
      const pid = Number.parseInt(entry.split('-')[0] ?? '', 10);
      if (Number.isSafeInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(base, entry), { recursive: true, force: true });
    }
    const directory = join(base, `${process.pid}-${randomBytes(4).toString('hex')}`);
    ownDirectory(directory);
    return new SharedMemory(directory);
  }

  session(id: bigint): SessionFiles {
    const directory = join(this.directory, `s${id.toString(16)}`);
    ownDirectory(directory);
    return new SessionFiles(directory, this);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** One session's files: the read file of each handle, and the files the client writes. */
export class SessionFiles {
  readonly directory: string;
  readonly #memory: SharedMemory;
  /** Handles that have a read file. */
  readonly #readFiles = new Set<number>();

  constructor(directory: string, memory: SharedMemory) {
    this.directory = directory;
    this.#memory = memory;
  }

  /**
   * Writes `bytes` at `offset` into the read file of `handle`, made as large
   * as the page (and never shrunk, so that a client's mapping never loses its
   * pages under it). Written with pwrite, not through a mapping: a file a
   * client truncated, or a full file system, is then an error for this
   * request, never a fault that stops the server. Returns the file's path.
   */
  publish(handle: number, pageSize: number, offset: number, bytes: Uint8Array): string {
    const path = join(this.directory, `h${handle}`);
    let fd: number;
    try {
      // NOFOLLOW and NONBLOCK: a link or a FIFO a client put in the way is refused, not followed or waited on.
      fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW | fs.O_NONBLOCK, 0o600);
    } catch (error) {
      throw new MmsbError(ErrorCode.SHM_INVALID, `the read file ${path} cannot be opened: ${(error as Error).message}`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new MmsbError(ErrorCode.SHM_INVALID, `${path} is not a regular file`);
      if (stat.size < pageSize) ftruncateSync(fd, pageSize);
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
      this.#readFiles.add(handle);
    } catch (error) {
      if (error instanceof MmsbError) throw error;
      const code = (error as NodeJS.ErrnoException).code === 'ENOSPC' ? ErrorCode.DISK_FULL : ErrorCode.IO_ERROR;
      throw new MmsbError(code, `writing the read file ${path}: ${(error as Error).message}`);
    } finally {
      closeSync(fd);
    }
    this.#memory.bytesWritten += bytes.length;
    return path;
  }

  /**
   * Reads `length` bytes at `offset` of the client's file `name` into
   * private memory, once: what is validated, logged and applied is this copy.
   */
  take(name: string, offset: number, length: number, most: number): Uint8Array {
    if (length > most) {
      throw new MmsbError(ErrorCode.SHM_INVALID, `a payload of ${length} bytes for a page of ${most}: no delta of it can be that long`);
    }
    if (!CLIENT_FILE.test(name) || name.startsWith('h') || name === '.' || name === '..') {
      throw new MmsbError(
        ErrorCode.SHM_INVALID,
        `${JSON.stringify(name)} is not a file name a client may use in its shared-memory directory`,
      );
    }
    let fd: number;
    try {
      fd = openSync(join(this.directory, name), fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NONBLOCK);
    } catch (error) {
      // O_NOFOLLOW fails with ELOOP on a symbolic link, which is refused, not followed.
      const link = (error as NodeJS.ErrnoException).code === 'ELOOP';
      throw new MmsbError(
        ErrorCode.SHM_INVALID,
        link
          ? `${JSON.stringify(name)} in this session's shared-memory directory is a symbolic link; only regular files are read`
          : `no file ${JSON.stringify(name)} in this session's shared-memory directory`,
      );
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new MmsbError(ErrorCode.SHM_INVALID, `${name} is not a regular file`);
      if (offset + length > stat.size) {
        throw new MmsbError(ErrorCode.SHM_INVALID, `${name} holds ${stat.size} bytes; the range ${offset}+${length} is outside it`);
      }
      const copy = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const read = readSync(fd, copy, done, length - done, offset + done);
        if (read === 0) throw new MmsbError(ErrorCode.SHM_INVALID, `${name} shrank while it was read`);
        done += read;
      }
      this.#memory.bytesRead += length;
      return copy;
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the read file of a freed handle. */
  forget(handle: number): void {
    // A client's mapping outlives the file.
    if (this.#readFiles.delete(handle)) rmSync(join(this.directory, `h${handle}`), { force: true });
  }

  remove(): void {
    this.#readFiles.clear();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
