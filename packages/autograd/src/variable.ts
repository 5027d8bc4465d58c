import { describeValue, expectationError, FaError, formatShape, isValidShape, numel } from '@fa/core';

/**
 * Host storage of a variable. Training runs in float32; `gradcheck` runs in float64. An op's result and every
 * gradient have the storage type of the op's inputs.
 */
export type Float = Float32Array | Float64Array;

/** One gradient per input of an op, in input order; `null` (or `undefined`) for an input that gets none. */
export type Grads = ReadonlyArray<Float | null | undefined>;

/** Turns the gradient of an op's result into gradients of its inputs. May be async (the attention op is). */
export type BackwardFn = (grad: Float) => Grads | Promise<Grads>;

/** How a variable was made: the tape is the graph of these nodes, walked backwards by `backward()`. */
export interface TapeNode {
  readonly name: string;
  readonly inputs: readonly Variable[];
  /** Null once the node has been released (after a backward pass without `retainGraph`). */
  backward: BackwardFn | null;
  /** Frees what the forward saved for backward that is not plain garbage-collected memory (backend tensors). */
  release: (() => void) | null;
}

export interface VariableOptions {
  readonly requiresGrad?: boolean;
  readonly name?: string;
}

export interface BackwardOptions {
  /** Keep the graph (and what ops saved for it) so that `backward()` may run through it again. */
  readonly retainGraph?: boolean;
}

/**
 * A tensor in host memory that records the ops that made it. Leaves (parameters, inputs) are made with
 * `variable()`; every op returns a new variable whose `node` says how to take its gradient.
 *
 * `data` is row-major and may be replaced or updated in place by an optimizer between steps; ops never write to
 * their inputs. `grad` is accumulated by `backward()` on leaves that require gradients, until `zeroGrad()`.
 */
export class Variable {
  data: Float;
  readonly shape: readonly number[];
  grad: Float | null = null;
  readonly requiresGrad: boolean;
  /** How this variable was computed; null for leaves and for results computed without recording. */
  readonly node: TapeNode | null;
  readonly name: string | undefined;

  constructor(data: Float, shape: readonly number[], options: VariableOptions & { node?: TapeNode | null } = {}) {
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw expectationError('E_DTYPE', 'data', 'a Float32Array or Float64Array', describeValue(data));
    }
    if (!isValidShape(shape) || numel(shape) !== data.length) {
      throw expectationError('E_SHAPE', 'shape', `a shape of ${data.length} elements`, describeValue(shape));
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.node = options.node ?? null;
    this.requiresGrad = this.node !== null || (options.requiresGrad ?? false);
    this.name = options.name;
  }

  get size(): number {
    return this.data.length;
  }

  get dtype(): 'f32' | 'f64' {
    return this.data instanceof Float64Array ? 'f64' : 'f32';
  }

  /** The value of a one-element variable (a loss). */
  item(): number {
    if (this.size !== 1) {
      throw expectationError('E_SHAPE', 'item()', 'a variable of one element', `shape ${formatShape(this.shape)}`);
    }
    return this.data[0]!;
  }

  /** The same data, cut from the graph: gradients stop here. */
  detach(): Variable {
    return new Variable(this.data, this.shape);
  }

  zeroGrad(): void {
    this.grad = null;
  }

  /**
   * Reverse-mode differentiation from this variable. `grad` defaults to 1 for a one-element variable. Leaves
   * that require gradients get them added to `grad`; the graph is released afterwards unless `retainGraph`.
   */
  backward(grad?: ArrayLike<number>, options: BackwardOptions = {}): Promise<void> {
    return runBackward(this, grad, options.retainGraph ?? false);
  }

  toString(): string {
    return `Variable(${formatShape(this.shape)}, ${this.dtype}${this.node ? `, ${this.node.name}` : ''})`;
  }
}

/** A leaf variable from host data. Numbers and plain arrays become float32. */
export function variable(
  data: Float | ArrayLike<number>,
  shape: readonly number[] = [data.length],
  options: VariableOptions = {},
): Variable {
  const storage = data instanceof Float32Array || data instanceof Float64Array ? data : Float32Array.from(data);
  return new Variable(storage, shape, options);
}

/** A trainable leaf: `variable(data, shape, { requiresGrad: true })`. */
export function parameter(data: Float, shape: readonly number[], name?: string): Variable {
  return new Variable(data, shape, { requiresGrad: true, name });
}

// ---------------------------------------------------------------------------------------------------------------
// Recording

let gradDisabled = 0;

/** Whether ops record the tape now (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradDisabled === 0;
}

/**
 * Runs `fn` without recording: results require no gradient and ops save nothing. Works with async functions; the
 * scope is dynamic, so other async work interleaved with an awaited `fn` also runs unrecorded.
 */
export function noGrad<T>(fn: () => T): T {
  gradDisabled++;
  let result: T;
  try {
    result = fn();
  } catch (error) {
    gradDisabled--;
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => gradDisabled--) as T;
  gradDisabled--;
  return result;
}

/** Whether an op on these inputs will be recorded, so that its forward knows whether to save anything. */
export function willRecord(inputs: readonly Variable[]): boolean {
  return isGradEnabled() && inputs.some((v) => v.requiresGrad);
}

/**
 * The primitive every op is built on: wraps a result computed from `inputs` and, when recording, the closure
 * that maps its gradient to theirs. What the closure captures is what the forward saved for backward. `release`
 * runs once the saved values are no longer needed (at once when nothing is recorded).
 */
export function recordOp(
  name: string,
  inputs: readonly Variable[],
  data: Float,
  shape: readonly number[],
  backward: BackwardFn,
  release?: () => void,
): Variable {
  if (!willRecord(inputs)) {
    release?.();
    return new Variable(data, shape);
  }
  return new Variable(data, shape, { node: { name, inputs, backward, release: release ?? null } });
}

/**
 * A custom op in the style of `torch.autograd.Function`: `forward` computes the result from the inputs and returns
 * what backward needs as `saved`; `backward` maps the result's gradient and `saved` to one gradient per input.
 * Either may be async. `release` frees `saved` when it holds backend memory.
 */
export interface CustomFunction<Saved> {
  readonly name: string;
  forward(
    inputs: readonly Variable[],
  ):
    | { data: Float; shape: readonly number[]; saved: Saved }
    | Promise<{ data: Float; shape: readonly number[]; saved: Saved }>;
  backward(grad: Float, saved: Saved): Grads | Promise<Grads>;
  release?(saved: Saved): void;
}

/** Turns a `CustomFunction` into an op: `const op = defineFunction(def); const y = await op(x)`. */
export function defineFunction<Saved>(def: CustomFunction<Saved>): (...inputs: Variable[]) => Promise<Variable> {
  return async (...inputs) => {
    const { data, shape, saved } = await def.forward(inputs);
    return recordOp(
      def.name,
      inputs,
      data,
      shape,
      (grad) => def.backward(grad, saved),
      def.release ? () => def.release?.(saved) : undefined,
    );
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Backward

/** Variables that `root` depends on through recorded ops, inputs before the results computed from them. */
function topologicalOrder(root: Variable): Variable[] {
  const order: Variable[] = [];
  const seen = new Set<Variable>();
  const stack: Array<[Variable, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const [v, expanded] = stack.pop()!;
    if (expanded) {
      order.push(v);
      continue;
    }
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push([v, true]);
    for (const input of v.node?.inputs ?? []) if (input.requiresGrad && !seen.has(input)) stack.push([input, false]);
  }
  return order;
}

function sumOf(a: Float, b: Float): Float {
  const out = a.slice();
  for (let i = 0; i < out.length; i++) out[i]! += b[i]!;
  return out;
}

async function runBackward(root: Variable, seed: ArrayLike<number> | undefined, retainGraph: boolean): Promise<void> {
  if (!root.requiresGrad) {
    throw new FaError(
      'E_VALUE',
      'Expected a variable that requires grad for `backward()`, received one computed without recording (no input requires grad, or inside noGrad).',
      { argument: 'backward()' },
    );
  }
  if (seed === undefined && root.size !== 1) {
    throw expectationError(
      'E_SHAPE',
      'grad',
      `a gradient of ${root.size} elements for a non-scalar result`,
      'none (only one-element results default to 1)',
    );
  }
  if (seed !== undefined && seed.length !== root.size) {
    throw expectationError('E_SHAPE', 'grad', `${root.size} elements`, `${seed.length}`);
  }
  const start = root.data instanceof Float64Array ? new Float64Array(root.size) : new Float32Array(root.size);
  if (seed === undefined) start[0] = 1;
  else start.set(seed);

  // Pending gradients of results not yet processed. Buffers returned by ops may be shared (add hands the same
  // gradient to both inputs), so accumulation always allocates instead of adding in place.
  const pending = new Map<Variable, Float>([[root, start]]);
  const order = topologicalOrder(root);
  for (let at = order.length - 1; at >= 0; at--) {
    const v = order[at]!;
    const grad = pending.get(v);
    pending.delete(v);
    const node = v.node;
    if (node === null) {
      if (grad) v.grad = v.grad ? sumOf(v.grad, grad) : grad.slice();
      continue;
    }
    if (grad) {
      if (node.backward === null) {
        throw new FaError(
          'E_VALUE',
          `Expected a graph that still holds what \`${node.name}\` saved, received one already released by an earlier backward(); pass { retainGraph: true } to the first.`,
          { argument: 'backward()' },
        );
      }
      const inputGrads = await node.backward(grad);
      node.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!g || !input.requiresGrad) return;
        if (g.length !== input.size) {
          throw new FaError(
            'E_SHAPE',
            `Op \`${node.name}\` returned a gradient of ${g.length} elements for input ${i} of ${input.size}.`,
          );
        }
        const previous = pending.get(input);
        pending.set(input, previous ? sumOf(previous, g) : g);
      });
    }
    if (!retainGraph) {
      node.release?.();
      node.release = null;
      node.backward = null;
    }
  }
}
