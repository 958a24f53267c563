// Entry point for `pulumi up`: the engine calls the exported function and records what it returns as outputs.
import { program } from "./program";

export = () => program();
