// Hand-written behavioural baseline of a 3D-Cube tensor engine (R x C units of K-lane dot
// products), the way an RTL engineer writes it when a controller does the scheduling: no stream
// handshake, operands broadcast (row r of the A block to every unit of row r, column c of the B
// block to every unit of column c), one accumulator per unit, all accumulators exposed.
//
//   a_in[r*K + k] (A_WIDTH each), b_in[k*COLS + c] (B_WIDTH each): one K-deep block per cycle
//   en:    accumulate this cycle's block;  clear: synchronous, zeroes every accumulator
//   acc[r*COLS + c] (ACC_WIDTH each, two's complement, wraps): += sum_k a[r][k] * b[k][c]
//
// Registers: ROWS * COLS * ACC_WIDTH (2x2x2 int8 acc17: 68 flip-flops).
`default_nettype none

module cube_array_baseline #(
    parameter integer ROWS      = 2,
    parameter integer COLS      = 2,
    parameter integer LANES     = 2,
    parameter integer A_WIDTH   = 8,
    parameter integer B_WIDTH   = 8,
    parameter integer ACC_WIDTH = 17
) (
    input  wire                             clk,
    input  wire                             rst,
    input  wire                             en,
    input  wire                             clear,
    input  wire [ROWS*LANES*A_WIDTH-1:0]    a_in,
    input  wire [LANES*COLS*B_WIDTH-1:0]    b_in,
    output wire [ROWS*COLS*ACC_WIDTH-1:0]   acc
);

    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                reg [ACC_WIDTH-1:0] acc_q;
                reg [ACC_WIDTH-1:0] dot;
                // Signed and as wide as the accumulator: the operands are sign-extended to
                // ACC_WIDTH before the multiply (Verilog-2005 context width, no cast needed).
                reg signed [ACC_WIDTH-1:0] product;
                integer k;
                always @(*) begin
                    dot = {ACC_WIDTH{1'b0}};
                    for (k = 0; k < LANES; k = k + 1) begin
                        product = $signed(a_in[(r*LANES + k)*A_WIDTH +: A_WIDTH])
                                  * $signed(b_in[(k*COLS + c)*B_WIDTH +: B_WIDTH]);
                        dot = dot + product;
                    end
                end
                always @(posedge clk) begin
                    if (rst || clear)
                        acc_q <= {ACC_WIDTH{1'b0}};
                    else if (en)
                        acc_q <= acc_q + dot;
                end
                assign acc[(r*COLS + c)*ACC_WIDTH +: ACC_WIDTH] = acc_q;
            end
        end
    endgenerate
endmodule
