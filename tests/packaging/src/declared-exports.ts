import ts from 'typescript';

/**
 * The runtime (value) exports each declaration file promises, from the TypeScript checker run over the
 * installed copy: interfaces, type aliases and `export type` re-exports are left out, since they do not exist
 * at run time. Re-exports from other packages are followed through the installed node_modules.
 */
export function declaredValueExports(declarationFiles: readonly string[]): Map<string, string[]> {
  const program = ts.createProgram([...declarationFiles], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const result = new Map<string, string[]>();
  for (const file of declarationFiles) {
    const source = program.getSourceFile(file);
    const module = source && checker.getSymbolAtLocation(source);
    if (!module) throw new Error(`${file} is not a module`);
    const names = checker
      .getExportsOfModule(module)
      .filter((symbol) => !isTypeOnlyExport(symbol))
      .filter((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        return (target.flags & ts.SymbolFlags.Value) !== 0;
      })
      .map((symbol) => symbol.getName())
      .sort();
    result.set(file, names);
  }
  return result;
}

function isTypeOnlyExport(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some(
    (d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly),
  );
}
