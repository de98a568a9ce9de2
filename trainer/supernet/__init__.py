"""``strategy=supernet``: one weight-sharing supernet scores a search's candidates with inherited weights;
its best and a random sample are then trained stand-alone to measure how well it ranks. In layers that
import one way: settings -> checkpoint -> module, callbacks -> train -> scoring -> standalone -> summary
-> loop."""
