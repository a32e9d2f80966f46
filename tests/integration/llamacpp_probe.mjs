// llamacpp_probe.mjs - asks llama.cpp (through the node-llama-cpp bindings)
// what it makes of a GGUF file, so llamacpp_compat.sh can compare it with
// trustbench.  Prints one JSON object on stdout.
//
//   node llamacpp_probe.mjs greedy PATH N       greedy ids from BOS, at most N
//                                               steps, ending before EOS
//   node llamacpp_probe.mjs tokenize PATH TEXT  ids of TEXT (no BOS, no specials)
//
// Run with NODE_PATH unset; the bindings are resolved from the folder given
// in TB_LLAMACPP_NODE_MODULES.
import {createRequire} from "node:module";
import path from "node:path";

const modules = process.env.TB_LLAMACPP_NODE_MODULES;
const require = createRequire(path.join(modules, "probe.cjs"));
const {getLlama} = await import(require.resolve("node-llama-cpp"));

const [mode, file, arg] = process.argv.slice(2);
// CPU only and never compile: the prebuilt binaries are what is tested.
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: file});
let out;
if (mode === "greedy") {
    const ctx = await model.createContext({contextSize: 512, batchSize: 512, threads: 1});
    const seq = ctx.getSequence();
    const ids = [];
    for await (const t of seq.evaluate([model.tokens.bos], {temperature: 0})) {
        if (t === model.tokens.eos) break;
        ids.push(t);
        if (ids.length >= Number(arg)) break;
    }
    out = {ids};
    await ctx.dispose();
} else if (mode === "tokenize") {
    out = {ids: Array.from(model.tokenize(arg, false))};
} else {
    throw new Error(`unknown mode ${mode}`);
}
out.vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? null;
console.log(JSON.stringify(out));
await model.dispose();
await llama.dispose();
