// Hand-written behavioural baseline of an output-stationary R x C GEMM array, the way an RTL
// engineer writes it for an accelerator whose controller does the scheduling: no stream
// handshake, no skew registers (the controller feeds row r of A r cycles late and column c of B
// c cycles late), one accumulator per PE, all accumulators exposed as outputs.
//
//   a_in[r]  (A_WIDTH each): enters PE (r, 0) and moves one PE right per cycle
//   b_in[c]  (B_WIDTH each): enters PE (0, c) and moves one PE down per cycle
//   en:      every register moves / accumulates only when en = 1
//   clear:   synchronous, zeroes every accumulator (a new tile; the operand registers keep
//            moving, so the controller asserts it between tiles with zeros in flight)
//   acc[r*C + c] (ACC_WIDTH each, two's complement): C[r][c] += a * b every enabled cycle
//
// Registers per PE: A_WIDTH + B_WIDTH + ACC_WIDTH (4x4 int8 acc32: 16 x 48 = 768 flip-flops).
`default_nettype none

module os_array_baseline #(
    parameter integer ROWS      = 4,
    parameter integer COLS      = 4,
    parameter integer A_WIDTH   = 8,
    parameter integer B_WIDTH   = 8,
    parameter integer ACC_WIDTH = 32
) (
    input  wire                                clk,
    input  wire                                rst,
    input  wire                                en,
    input  wire                                clear,
    input  wire [ROWS*A_WIDTH-1:0]             a_in,
    input  wire [COLS*B_WIDTH-1:0]             b_in,
    output wire [ROWS*COLS*ACC_WIDTH-1:0]      acc
);
    // a_bus[r][c]: the A operand entering PE (r, c); b_bus[r][c]: the B operand entering it.
    wire [A_WIDTH-1:0] a_bus [0:ROWS-1][0:COLS];
    wire [B_WIDTH-1:0] b_bus [0:ROWS][0:COLS-1];

    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_a_edge
            assign a_bus[r][0] = a_in[r*A_WIDTH +: A_WIDTH];
        end
        for (c = 0; c < COLS; c = c + 1) begin : g_b_edge
            assign b_bus[0][c] = b_in[c*B_WIDTH +: B_WIDTH];
        end
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                reg [A_WIDTH-1:0]   a_q;
                reg [B_WIDTH-1:0]   b_q;
                reg [ACC_WIDTH-1:0] acc_q;
                wire signed [A_WIDTH+B_WIDTH-1:0] product =
                    $signed(a_bus[r][c]) * $signed(b_bus[r][c]);
                always @(posedge clk) begin
                    if (rst) begin
                        a_q   <= {A_WIDTH{1'b0}};
                        b_q   <= {B_WIDTH{1'b0}};
                        acc_q <= {ACC_WIDTH{1'b0}};
                    end else begin
                        if (en) begin
                            a_q <= a_bus[r][c];
                            b_q <= b_bus[r][c];
                        end
                        if (clear)
                            acc_q <= {ACC_WIDTH{1'b0}};
                        else if (en)
                            acc_q <= acc_q + {{(ACC_WIDTH-A_WIDTH-B_WIDTH){product[A_WIDTH+B_WIDTH-1]}}, product};
                    end
                end
                assign a_bus[r][c+1] = a_q;
                assign b_bus[r+1][c] = b_q;
                assign acc[(r*COLS + c)*ACC_WIDTH +: ACC_WIDTH] = acc_q;
            end
        end
    endgenerate
endmodule
