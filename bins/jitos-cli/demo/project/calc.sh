# A tiny calculator, sourced by the tests.
add() {
  echo $(( $1 - $2 ))
}
