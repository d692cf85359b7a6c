import { catalogueContract } from './contract/index.js'

catalogueContract('pglite')
