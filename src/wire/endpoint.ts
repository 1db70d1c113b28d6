/**
 * One end of a channel: a `MessagePort`, or a pair of `BroadcastChannel`s.
 *
 * The thread that calls `setup()` gets a `MessagePort` when the reactor starts. Any
 * other thread has no way to receive a port (ports move only with `postMessage`, and it
 * may have been created before the reactor existed), so it opens two
 * `BroadcastChannel`s with fresh unguessable names, which work the same way: synchronous
 * `receiveMessageOnPort`, structured clone. They cannot transfer, so a transfer list is
 * honoured by copying and then detaching the sender's buffers.
 */
import { BroadcastChannel, receiveMessageOnPort, type MessagePort, type Transferable } from 'node:worker_threads';

export interface Endpoint {
  /** Sends a message. Throws a `DataCloneError` if it cannot be cloned. */
  post(message: unknown, transfer?: readonly Transferable[]): void;
  /** Takes the next message, if one is waiting, without the event loop. */
  receive(): { message: unknown } | undefined;
  /** Delivers messages to `handler` from the event loop; `keepAlive` refs the loop. */
  listen(handler: (message: unknown) => void, keepAlive: boolean): void;
  close(): void;
}

export function portEndpoint(port: MessagePort): Endpoint {
  return {
    post(message, transfer) {
      port.postMessage(message, transfer as Transferable[] | undefined);
    },
    receive() {
      return receiveMessageOnPort(port);
    },
    listen(handler, keepAlive) {
      port.on('message', handler);
      if (!keepAlive) port.unref();
    },
    close() {
      port.close();
    },
  };
}

/** Names of a channel's two broadcast channels, from the caller's side. */
export function channelNames(base: string): { readonly toReactor: string; readonly toCaller: string } {
  return { toReactor: `${base}:in`, toCaller: `${base}:out` };
}

export function broadcastEndpoint(sendName: string, receiveName: string): Endpoint {
  const sender = new BroadcastChannel(sendName);
  const receiver = new BroadcastChannel(receiveName);
  sender.unref();
  let closed = false;
  return {
    post(message, transfer) {
      sender.postMessage(message);
      // Moving is not possible here: the buffers were copied; detach them as a move would.
      for (const item of transfer ?? []) {
        if (item instanceof ArrayBuffer && item.byteLength > 0) structuredClone(item, { transfer: [item] });
      }
    },
    receive() {
      // A closed BroadcastChannel is no longer a port at all: reading it would throw.
      if (closed) return undefined;
      return receiveMessageOnPort(receiver as unknown as MessagePort);
    },
    listen(handler, keepAlive) {
      receiver.onmessage = (event) => {
        handler((event as MessageEvent).data);
      };
      if (keepAlive) receiver.ref();
      else receiver.unref();
    },
    close() {
      closed = true;
      sender.close();
      receiver.close();
    },
  };
}
