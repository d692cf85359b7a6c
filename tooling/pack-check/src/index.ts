export { checkPackedPackage } from './check.js'
export { type PackedPackage, packPackage } from './pack.js'
