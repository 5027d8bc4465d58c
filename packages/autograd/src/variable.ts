import { describeValue, expectationError, FaError, formatShape, isValidShape, numel, optionKeys } from '@fa/core';
import {
  checkFloatData,
  checkFunction,
  checkOptionalBoolean,
  checkOptionalString,
  checkOptions,
  checkShape,
  type Float,
  isFloat,
} from './checks.js';

export type { Float } from './checks.js';

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

/** `node` is how ops make their results; users leave it out. */
const VARIABLE_OPTION_KEYS = optionKeys<VariableOptions & { node?: TapeNode | null }>()([
  'requiresGrad',
  'name',
  'node',
]);
const BACKWARD_OPTION_KEYS = optionKeys<BackwardOptions>()(['retainGraph']);

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
    checkFloatData(data, 'data');
    if (!isValidShape(shape) || numel(shape) !== data.length) {
      throw expectationError('E_SHAPE', 'shape', `a shape of ${data.length} elements`, describeValue(shape));
    }
    const { node, requiresGrad, name } = checkOptions(options, VARIABLE_OPTION_KEYS);
    if (node != null && (typeof node !== 'object' || !Array.isArray(node.inputs))) {
      throw expectationError('E_VALUE', 'options.node', 'a tape node or null', describeValue(node));
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.node = node ?? null;
    this.requiresGrad = this.node !== null || (checkOptionalBoolean(requiresGrad, 'options.requiresGrad') ?? false);
    this.name = checkOptionalString(name, 'options.name');
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
    try {
      checkSeed(grad);
      const retainGraph = checkOptionalBoolean(
        checkOptions(options, BACKWARD_OPTION_KEYS).retainGraph,
        'options.retainGraph',
      );
      return runBackward(this, grad, retainGraph ?? false);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  toString(): string {
    return `Variable(${formatShape(this.shape)}, ${this.dtype}${this.node ? `, ${this.node.name}` : ''})`;
  }
}

/** A leaf variable from host data, of shape `[data.length]` unless given. Plain arrays and other typed arrays become float32. */
export function variable(
  data: Float | ArrayLike<number>,
  shape?: readonly number[],
  options?: VariableOptions,
): Variable {
  const storage = isFloat(data) ? data : toFloat32(data);
  return new Variable(storage, shape === undefined ? [storage.length] : shape, options);
}

/**
 * Plain arrays and non-float typed arrays as float32. Strings and array-likes of non-numbers are refused:
 * `Float32Array.from` would turn them into NaN without a word.
 */
function toFloat32(data: unknown): Float32Array {
  const numeric = ArrayBuffer.isView(data) && !(data instanceof DataView) && !(data instanceof BigInt64Array);
  if (numeric && !(data instanceof BigUint64Array)) return Float32Array.from(data as unknown as ArrayLike<number>);
  if (Array.isArray(data)) {
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const x: unknown = data[i];
      if (typeof x !== 'number') {
        throw expectationError('E_DTYPE', 'data', 'an array of numbers', `data[${i}] = ${describeValue(x)}`);
      }
      out[i] = x;
    }
    return out;
  }
  throw expectationError('E_DTYPE', 'data', 'a Float32Array, Float64Array or array of numbers', describeValue(data));
}

/** A trainable leaf: `variable(data, shape, { requiresGrad: true })`. */
export function parameter(data: Float, shape: readonly number[], name?: string): Variable {
  return new Variable(data, shape, { requiresGrad: true, name: checkOptionalString(name, 'name') });
}

/** A seed gradient for `backward()`: plain arrays must hold numbers, as `Float32Array.set` would coerce anything. */
function checkSeed(grad: unknown): void {
  if (grad === undefined || (ArrayBuffer.isView(grad) && !(grad instanceof DataView))) {
    if (grad instanceof BigInt64Array || grad instanceof BigUint64Array) {
      throw expectationError('E_DTYPE', 'grad', 'an array of numbers', describeValue(grad));
    }
    return;
  }
  if (!Array.isArray(grad) || grad.some((x) => typeof x !== 'number')) {
    throw expectationError('E_DTYPE', 'grad', 'an array of numbers', describeValue(grad));
  }
}

/** Checked here rather than in checks.ts, which the class's module must not import in a cycle. */
export function checkVariable(value: unknown, argument: string): Variable {
  if (!(value instanceof Variable)) throw expectationError('E_VALUE', argument, 'a Variable', describeValue(value));
  return value;
}

/** An array of variables; the error names the whole list, since `inputs[0]` is no dotted path under `inputs`. */
export function checkVariables(value: unknown, argument: string): readonly Variable[] {
  if (!Array.isArray(value)) throw expectationError('E_VALUE', argument, 'an array of Variables', describeValue(value));
  for (let i = 0; i < value.length; i++) {
    if (!(value[i] instanceof Variable)) {
      throw expectationError(
        'E_VALUE',
        argument,
        'an array of Variables',
        `${argument}[${i}] = ${describeValue(value[i])}`,
      );
    }
  }
  return value;
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
  checkFunction(fn, 'fn');
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
  checkVariables(inputs, 'inputs');
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
  if (typeof name !== 'string') throw expectationError('E_VALUE', 'name', 'a string', describeValue(name));
  checkVariables(inputs, 'inputs');
  checkFloatData(data, 'data');
  checkShape(shape, 'shape');
  checkFunction(backward, 'backward');
  if (release !== undefined) checkFunction(release, 'release');
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
  if (def === null || typeof def !== 'object') {
    throw expectationError('E_VALUE', 'def', 'a { name, forward, backward } object', describeValue(def));
  }
  if (typeof def.name !== 'string') throw expectationError('E_VALUE', 'def.name', 'a string', describeValue(def.name));
  checkFunction(def.forward, 'def.forward');
  checkFunction(def.backward, 'def.backward');
  if (def.release !== undefined) checkFunction(def.release, 'def.release');
  return async (...inputs) => {
    checkVariables(inputs, 'inputs');
    const result: unknown = await def.forward(inputs);
    if (result === null || typeof result !== 'object' || !isFloat((result as { data?: unknown }).data)) {
      throw expectationError(
        'E_VALUE',
        'def.forward',
        'a result { data, shape, saved } with Float data',
        describeValue(result),
      );
    }
    const { data, shape, saved } = result as { data: Float; shape: readonly number[]; saved: Saved };
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
