/**
 * One end of a channel, as the caller or the reactor uses it.
 *
 * The thread that started the reactor holds a `MessagePort` to it (structured clone,
 * transfers, and a synchronous `receiveMessageOnPort` on every runtime). Any other thread
 * was not handed a port, so its channel is made of its box and two broadcast channels whose
 * names only the two ends know (see handshake.ts): requests go to the reactor on one of them
 * (the reactor's loop takes them in), replies come back through the ring in the box (read
 * without the event loop, as a blocked caller must), and the other broadcast channel only
 * wakes a caller whose loop is free to look at its ring. Those channels cannot transfer, so
 * a transfer list is honoured by copying, then detaching the sender's buffers.
 */
import { deserialize, serialize } from 'node:v8';
import { BroadcastChannel, receiveMessageOnPort, type MessagePort, type Transferable } from 'node:worker_threads';
import { CH_BLOCKING, CH_NUDGED, CH_SENT, REPLY_IDS, REPLY_IDS_OFFSET } from './layout.js';
import { isTooDeep } from './codec.js';
import { Kind, type SpaceMessage } from './messages.js';
import type { ChannelNames } from './handshake.js';
import { RingReader, RingWriter } from './ring.js';

export interface Endpoint {
  /** Sends a message. Throws (a `DataCloneError`, say) if it cannot be sent. */
  post(message: unknown, transfer?: readonly Transferable[], id?: number): void;
  /** Takes the next message, if one is waiting, without the event loop. */
  receive(): { message: unknown } | undefined;
  /** Delivers messages to `handler` from the event loop; `keepAlive` refs the loop. */
  listen(handler: (message: unknown) => void, keepAlive: boolean): void;
  /** Writes what waited for room (reactor, ring channels); returns whether it wrote anything. */
  flush?(): boolean;
  /** Whether messages wait to be taken in (caller, ring channels: written and not read yet). */
  waiting?(): boolean;
  close(): void;
}

/**
 * What an endpoint delivers for a message that arrived but could not be decoded (nested
 * too deeply for this thread's stack, say): the failure of the call it was about, whose id
 * is `id` when the receiving end can tell (0 otherwise). Made only here, never received.
 */
export class Undecodable {
  readonly id: number;
  readonly error: unknown;
  constructor(id: number, error: unknown) {
    this.id = id;
    this.error = error;
  }
}

/**
 * A port end. `box` (the channel's box) makes the message numbers line up with the call
 * ids the reactor records there (see REPLY_IDS in layout.ts): `'reactor'` records the call
 * each message it posts is about; `'caller'` counts what it takes in, so that a message it
 * cannot decode becomes the failure of its call. A request the reactor cannot decode
 * becomes an {@link Undecodable} of id 0 (the reactor's channel knows its number).
 */
export function portEndpoint(port: MessagePort, box?: Int32Array, role?: 'caller' | 'reactor'): Endpoint {
  const ids = box === undefined ? undefined : new Int32Array(box.buffer, REPLY_IDS_OFFSET, REPLY_IDS * 2);
  /** Messages posted, and taken in (including those that could not be decoded). */
  let posted = 0;
  let taken = 0;
  const idOf = (number: number): number => {
    if (ids === undefined) return 0;
    const slot = (number & (REPLY_IDS - 1)) * 2;
    if (Atomics.load(ids, slot) !== number) return 0;
    const id = Atomics.load(ids, slot + 1);
    // Still this message's: the reactor did not reuse the slot meanwhile.
    return Atomics.load(ids, slot) === number ? id : 0;
  };
  const undecodable = (error: unknown): Undecodable => {
    taken = (taken + 1) | 0;
    return new Undecodable(role === 'caller' ? idOf(taken) : 0, error);
  };
  return {
    post(message, transfer, id = 0) {
      if (ids !== undefined && role === 'reactor') {
        const number = (posted + 1) | 0;
        const slot = (number & (REPLY_IDS - 1)) * 2;
        Atomics.store(ids, slot + 1, id);
        Atomics.store(ids, slot, number);
        port.postMessage(message, transfer as Transferable[] | undefined);
        posted = number;
        return;
      }
      port.postMessage(message, transfer as Transferable[] | undefined);
    },
    receive() {
      let received: { message: unknown } | undefined;
      try {
        received = receiveMessageOnPort(port);
      } catch (error) {
        // A message that could not be decoded here (nested too deeply, say): it was taken.
        return { message: undecodable(error) };
      }
      if (received !== undefined) taken = (taken + 1) | 0;
      return received;
    },
    listen(handler, keepAlive) {
      port.on('message', (message: unknown) => {
        taken = (taken + 1) | 0;
        handler(message);
      });
      port.on('messageerror', (error: unknown) => {
        handler(undecodable(error));
      });
      if (!keepAlive) port.unref();
    },
    close() {
      port.close();
    },
  };
}

/** Moving is not possible over a broadcast channel: the buffers were copied; detach them as a move would. */
function detach(transfer: readonly Transferable[] | undefined): void {
  for (const item of transfer ?? []) {
    if (item instanceof ArrayBuffer && item.byteLength > 0) structuredClone(item, { transfer: [item] });
  }
}

/**
 * What in `value` cannot go through `v8.serialize()` faithfully on every runtime, looked
 * for in objects, arrays, maps and sets (bounded): a Blob (an empty object on Node 22+),
 * or shared memory (Bun copies it into memory that is not shared). Undefined if nothing.
 */
function unserializable(value: unknown): string | undefined {
  const Blob = globalThis.Blob as unknown as (abstract new () => object) | undefined;
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  let budget = 100_000;
  while (stack.length > 0 && budget-- > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    if (item instanceof SharedArrayBuffer) return 'A SharedArrayBuffer';
    if (ArrayBuffer.isView(item)) {
      if (item.buffer instanceof SharedArrayBuffer) return 'A SharedArrayBuffer';
      continue;
    }
    if (Blob !== undefined && item instanceof Blob) return 'A Blob';
    seen.add(item);
    if (item instanceof Map) {
      for (const [key, entry] of item) stack.push(key, entry);
    } else if (item instanceof Set) {
      for (const entry of item) stack.push(entry);
    } else {
      // Data properties only: a getter must run once, in the serializer.
      for (const key of Object.keys(item)) {
        const property = Object.getOwnPropertyDescriptor(item, key);
        if (property !== undefined && 'value' in property) stack.push(property.value);
      }
    }
  }
  return undefined;
}

/** The caller's end of a channel opened by the directory. */
export function callerRingEndpoint(box: Int32Array, names: ChannelNames): Endpoint {
  const sender = new BroadcastChannel(names.toReactor);
  sender.unref();
  let receiver: BroadcastChannel | undefined;
  const reader = new RingReader(box);
  const queue: unknown[] = [];
  let closed = false;
  const receive = (): { message: unknown } | undefined => {
    if (queue.length === 0 && reader.ready) fill();
    if (queue.length === 0) return undefined;
    return { message: queue.shift() };
  };
  const fill = (): void => {
    const { messages, wanted } = reader.read();
    // The reactor waits for room, which this read made: say so (a counted message).
    if (wanted && !closed) {
      const space: SpaceMessage = { k: Kind.Space };
      sender.postMessage(space);
      Atomics.add(box, CH_SENT, 1);
    }
    for (const { id, bytes } of messages) {
      try {
        queue.push(deserialize(bytes));
      } catch (error) {
        queue.push(new Undecodable(id, error));
      }
    }
  };
  return {
    post(message, transfer) {
      if (closed) return;
      sender.postMessage(message);
      detach(transfer);
    },
    receive,
    waiting() {
      return queue.length > 0 || reader.ready;
    },
    listen(handler, keepAlive) {
      receiver = new BroadcastChannel(names.toCaller);
      receiver.onmessage = () => {
        // A wake-up: whatever it says, look at the ring (the wake-up itself carries nothing).
        Atomics.store(box, CH_NUDGED, 0);
        for (;;) {
          const received = receive();
          if (received === undefined) break;
          handler(received.message);
        }
      };
      if (keepAlive) receiver.ref();
      else receiver.unref();
    },
    close() {
      closed = true;
      sender.close();
      receiver?.close();
    },
  };
}

/** The reactor's end of a channel opened by the directory. */
export function reactorRingEndpoint(box: Int32Array, names: ChannelNames): Endpoint & { flush(): boolean } {
  const receiver = new BroadcastChannel(names.toReactor);
  const waker = new BroadcastChannel(names.toCaller);
  waker.unref();
  const writer = new RingWriter(box);
  let closed = false;
  const nudge = (): void => {
    // A caller that blocks reads its ring by itself; one whose loop is free needs a post.
    if (Atomics.load(box, CH_BLOCKING) === 1) return;
    if (Atomics.exchange(box, CH_NUDGED, 1) === 1) return;
    waker.postMessage(0);
  };
  return {
    post(message, transfer, id = 0) {
      if (closed) return;
      let bytes: Uint8Array;
      try {
        // v8.serialize() turns a Blob into an empty object on some runtimes (Node 22+,
        // Deno), and shared memory into a copy on Bun, instead of refusing them: a wrong
        // reply. Refuse them here.
        const refused = unserializable(message);
        if (refused !== undefined) throw new TypeError(`${refused} could not be cloned`);
        bytes = serialize(message);
      } catch (error) {
        // Nested too deeply for this thread's stack: said as such by the caller of post().
        if (isTooDeep(error)) throw error;
        throw new TypeError(
          `${error instanceof Error ? error.message : String(error)} (a thread other than the one that started the reactor receives its results serialized in shared memory, where a SharedArrayBuffer or a Blob cannot go: pass a SharedArrayBuffer in as an argument instead, or return the Blob's bytes)`,
          { cause: error },
        );
      }
      detach(transfer);
      writer.write(id, bytes);
      nudge();
    },
    receive() {
      // Only the event loop delivers broadcast messages on every runtime.
      return undefined;
    },
    listen(handler, keepAlive) {
      receiver.onmessage = (event) => {
        handler((event as MessageEvent).data);
      };
      // A request that could not be decoded here (nested too deeply, say): the channel
      // counts it, and fails its call.
      receiver.onmessageerror = (event) => {
        handler(new Undecodable(0, (event as MessageEvent).data));
      };
      if (keepAlive) receiver.ref();
      else receiver.unref();
    },
    flush() {
      if (closed || !writer.backlog) return false;
      writer.flush();
      nudge();
      return true;
    },
    close() {
      closed = true;
      receiver.close();
      waker.close();
    },
  };
}
